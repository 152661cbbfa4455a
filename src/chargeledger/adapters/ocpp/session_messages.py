"""The station's messages of OCPP 1.6 charging sessions, translated: payload in, use case
called, answer back. Authorize, StartTransaction and StopTransaction are business;
MeterValues are telemetry and go to the twin, never to the stream. Registered beside
the other station messages in ``handlers``."""

from __future__ import annotations

from typing import Any

from chargeledger.adapters.ocpp.handlers import Handler, Reply
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.charging_sessions import ChargingSessions
from chargeledger.application.message_ports import StationTelemetry
from chargeledger.application.ports import Clock
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.timestamps import iso_z


def id_tag_info(info: IdTagInfo) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": info.status}
    if info.expiry is not None:
        answer["expiryDate"] = info.expiry
    return answer


class SessionMessages:
    """``clock`` stamps what the twin mirrors of an Authorize (it records no event)."""

    def __init__(self, sessions: ChargingSessions, twin: StationTelemetry, clock: Clock) -> None:
        self._sessions = sessions
        self._twin = twin
        self._clock = clock
        self.handlers: dict[str, Handler] = {
            "Authorize": self.authorize,
            "StartTransaction": self.start_transaction,
            "StopTransaction": self.stop_transaction,
            "MeterValues": self.meter_values,
        }

    async def authorize(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        info = await self._sessions.authorize(session.station_id, payload["idTag"])
        self._twin.authorized(session.station_id, payload["idTag"], info.status, self._now())
        return Reply({"idTagInfo": id_tag_info(info)})

    def _now(self) -> str:
        return iso_z(self._clock.now())

    async def start_transaction(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        answer = await self._sessions.start_transaction(
            session.station_id,
            connector_id=payload["connectorId"],
            id_tag=payload["idTag"],
            meter_start=payload["meterStart"],
            timestamp=payload["timestamp"],
            reservation_id=payload.get("reservationId"),
        )
        return Reply(
            {"transactionId": answer.transaction_id, "idTagInfo": id_tag_info(answer.id_tag_info)}
        )

    async def stop_transaction(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        info = await self._sessions.stop_transaction(
            session.station_id,
            transaction_id=payload["transactionId"],
            meter_stop=payload["meterStop"],
            timestamp=payload["timestamp"],
            id_tag=payload.get("idTag"),
            reason=payload.get("reason"),
            transaction_data=payload.get("transactionData"),
        )
        return Reply({} if info is None else {"idTagInfo": id_tag_info(info)})

    async def meter_values(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        await self._twin.meter_values(
            session.station_id,
            payload["connectorId"],
            payload.get("transactionId"),
            payload["meterValue"],
        )
        return Reply({})
