"""OCPP 2.0.1 station-initiated messages, translated: payload in, the same use cases as
1.6's (``handlers``, ``session_messages``) called, answer back. Registered with
``StationMessages.speak`` for the ``ocpp2.0.1`` subprotocol.

The domain's connector is the EVSE (``evseId``): what 1.6 numbers as a connector,
2.0.1 numbers as an EVSE, each with connectors of its own, which the twin keeps.
"""

from __future__ import annotations

import json
from typing import Any

from chargeledger.adapters.ocpp.handlers import EMPTY, Handler, Reply, StationMessages
from chargeledger.adapters.ocpp.session import StationSession
from chargeledger.application.charging_sessions import ChargingSessions, TransactionEvent
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.ports import Clock
from chargeledger.application.twin_service import TwinService
from chargeledger.domain.commands import EndReservationAsReported
from chargeledger.domain.enums import TransactionEventType
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.station_reports import NoticeReport, VariableReport
from chargeledger.domain.timestamps import iso_z


def id_token_info(info: IdTagInfo) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": info.status}
    if info.expiry is not None:
        answer["cacheExpiryDateTime"] = info.expiry
    return answer


class Messages201:
    """``handlers``: what a 2.0.1 station may send, by action."""

    def __init__(
        self,
        common: StationMessages,
        sessions: ChargingSessions,
        twin: TwinService,
        clock: Clock,
        handler: CommandHandler,
    ) -> None:
        self._handler = handler
        self._common = common
        self._sessions = sessions
        self._twin = twin
        self._clock = clock
        self.handlers: dict[str, Handler] = {
            "BootNotification": self.boot_notification,
            "Heartbeat": common.heartbeat,
            "StatusNotification": self.status_notification,
            "Authorize": self.authorize,
            "TransactionEvent": self.transaction_event,
            "MeterValues": self.meter_values,
            "FirmwareStatusNotification": self.firmware_status_notification,
            "LogStatusNotification": self.log_status_notification,
            "DataTransfer": self.data_transfer,
            "NotifyEvent": self.notify_event,
            "ReservationStatusUpdate": self.reservation_status_update,
            "NotifyReport": self.notify_report,
            "SecurityEventNotification": self.security_event_notification,
            "ReportChargingProfiles": self.report_charging_profiles,
            "NotifyChargingLimit": self.notify_charging_limit,
            "ClearedChargingLimit": self.cleared_charging_limit,
        }

    def _now(self) -> str:
        return iso_z(self._clock.now())

    async def boot_notification(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        station = payload["chargingStation"]
        return await self._common.register_boot(
            session,
            vendor=station["vendorName"],
            model=station["model"],
            firmware_version=station.get("firmwareVersion"),
            serial_number=station.get("serialNumber"),
            reason=payload["reason"],
        )

    def status_notification(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        self._twin.evse_status_notified(
            session.station_id,
            payload["evseId"],
            payload["connectorId"],
            payload["connectorStatus"],
            payload["timestamp"],
            self._now(),
        )
        return EMPTY

    async def authorize(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        token = payload["idToken"]["idToken"]
        info = await self._sessions.authorize(session.station_id, token)
        self._twin.authorized(session.station_id, token, info.status, self._now())
        return Reply({"idTokenInfo": id_token_info(info)})

    async def transaction_event(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        transaction = payload["transactionInfo"]
        token = payload.get("idToken")
        answer = await self._sessions.transaction_event(
            session.station_id,
            TransactionEvent(
                event_type=TransactionEventType(payload["eventType"]),
                station_transaction_id=transaction["transactionId"],
                seq_no=payload["seqNo"],
                evse_id=(payload.get("evse") or {}).get("id", 0),
                timestamp=payload["timestamp"],
                id_tag=None if token is None else token["idToken"],
                reason=transaction.get("stoppedReason"),
                reservation_id=payload.get("reservationId"),
                meter_value=payload.get("meterValue") or [],
                offline=payload.get("offline", False),
            ),
        )
        if answer.id_tag_info is None:
            return EMPTY
        return Reply({"idTokenInfo": id_token_info(answer.id_tag_info)})

    async def meter_values(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        await self._twin.meter_values(
            session.station_id, payload["evseId"], None, payload["meterValue"]
        )
        return EMPTY

    def firmware_status_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> Reply:
        self._twin.firmware_status_notified(session.station_id, payload["status"], self._now())
        return EMPTY

    def log_status_notification(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        self._twin.diagnostics_status_notified(session.station_id, payload["status"], self._now())
        return EMPTY

    async def reservation_status_update(
        self, session: StationSession, payload: dict[str, Any]
    ) -> Reply:
        """The station ended a reservation itself (Expired, Removed): a business fact."""
        reservation_id, status = payload["reservationId"], payload["reservationUpdateStatus"]
        await self._handler.execute(
            session.station_id,
            EndReservationAsReported(
                command_id=f"reservation/reported/{reservation_id}/{status}",
                reservation_id=reservation_id,
                status=status,
            ),
        )
        return EMPTY

    def data_transfer(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        """As 1.6's, but 2.0.1's ``data`` may be any JSON: the twin keeps it as text."""
        data = payload.get("data")
        if data is not None and not isinstance(data, str):
            payload = {**payload, "data": json.dumps(data, separators=(",", ":"))}
        return self._common.data_transfer(session, payload)

    def notify_report(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        at = payload["generatedAt"]
        reported = [
            VariableReport(_variable_key(item), _actual(item)[0], _actual(item)[1], at)
            for item in payload.get("reportData") or []
        ]
        self._twin.device_model_reported(session.station_id, reported)
        return EMPTY

    def notify_event(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        notices = [
            NoticeReport("event", _event_text(event), event["timestamp"])
            for event in payload["eventData"]
        ]
        self._twin.noticed(session.station_id, notices)
        return EMPTY

    def security_event_notification(
        self, session: StationSession, payload: dict[str, Any]
    ) -> Reply:
        what = payload["type"] + (f": {payload['techInfo']}" if payload.get("techInfo") else "")
        self._twin.noticed(
            session.station_id, [NoticeReport("security", what, payload["timestamp"])]
        )
        return EMPTY

    def report_charging_profiles(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        """The answer to get-charging-profiles: each profile a notice of the station view
        (``charging-profile``), as the station holds it."""
        where = f"EVSE {payload['evseId']} ({payload['chargingLimitSource']})"
        notices = [
            NoticeReport("charging-profile", f"{where}: {_profile_text(profile)}", self._now())
            for profile in payload["chargingProfile"]
        ]
        self._twin.noticed(session.station_id, notices)
        return EMPTY

    def notify_charging_limit(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        """A limit set on the station from outside the CSMS (an energy management system,
        the grid operator): a ``charging-limit`` notice of the station view."""
        limit = payload["chargingLimit"]
        what = f"{_limit_where(payload)}: limit set by {limit['chargingLimitSource']}"
        if limit.get("isGridCritical"):
            what += ", grid critical"
        schedules = payload.get("chargingSchedule") or ()
        what += "".join(f"; {_schedule_text(schedule)}" for schedule in schedules)
        self._twin.noticed(session.station_id, [NoticeReport("charging-limit", what, self._now())])
        return EMPTY

    def cleared_charging_limit(self, session: StationSession, payload: dict[str, Any]) -> Reply:
        what = f"{_limit_where(payload)}: limit of {payload['chargingLimitSource']} cleared"
        self._twin.noticed(session.station_id, [NoticeReport("charging-limit", what, self._now())])
        return EMPTY


def _limit_where(payload: dict[str, Any]) -> str:
    evse_id = payload.get("evseId")
    return "the station" if not evse_id else f"EVSE {evse_id}"


def _schedule_text(schedule: dict[str, Any]) -> str:
    """``0 s 16 A, 3600 s 10 A``."""
    return ", ".join(
        f"{period['startPeriod']} s {period['limit']} {schedule['chargingRateUnit']}"
        for period in schedule["chargingSchedulePeriod"]
    )


def _profile_text(profile: dict[str, Any]) -> str:
    """``TxDefaultProfile 7, stack level 0, Absolute: 0 s 16 A, 3600 s 10 A``."""
    periods = ", ".join(_schedule_text(schedule) for schedule in profile["chargingSchedule"])
    return (
        f"{profile['chargingProfilePurpose']} {profile['id']}, stack level "
        f"{profile['stackLevel']}, {profile['chargingProfileKind']}: {periods}"
    )


def _variable_key(item: dict[str, Any]) -> str:
    """``Component[instance]@evse/Variable[instance]``, parts present only when reported."""
    component, variable = item["component"], item["variable"]
    name = component["name"]
    if component.get("instance"):
        name += f"[{component['instance']}]"
    if component.get("evse"):
        name += f"@{component['evse']['id']}"
    key = f"{name}/{variable['name']}"
    return key + (f"[{variable['instance']}]" if variable.get("instance") else "")


def _actual(item: dict[str, Any]) -> tuple[str | None, bool]:
    """The Actual attribute's value (else the first one's) and whether it is read-only."""
    attributes = item.get("variableAttribute") or [{}]
    actual = next((a for a in attributes if a.get("type", "Actual") == "Actual"), attributes[0])
    return actual.get("value"), actual.get("mutability") == "ReadOnly"


def _event_text(event: dict[str, Any]) -> str:
    """``Component/Variable = value (trigger)``, and ``cleared`` when it says so."""
    key = _variable_key(event)
    text = f"{key} = {event['actualValue']} ({event['trigger']})"
    return text + (" cleared" if event.get("cleared") else "")
