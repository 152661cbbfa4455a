"""How a command in doubt is settled from what the station did since its dispatch.

A command is in doubt when its ``CommandDispatched`` is recorded but no answer is:
the node died, or the connection dropped, between sending the CALL and recording
the answer. Re-sending it blindly could start a second charge or reset a station
twice, so we look for the command's effect instead (ARCHITECTURE.md flow 4). Each
observer answers with the evidence that the command took effect, or ``None``.

A Reset has no observer: a BootNotification after it could be the reboot it asked
for or a reconnect for another reason, so a Reset in doubt ends failed, not guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

from chargeledger.domain import events as e
from chargeledger.domain.enums import AvailabilityType, ConnectorStatus
from chargeledger.domain.operations import Arguments
from chargeledger.domain.twin import StationTwin


def remote_start_took_effect(
    payload: Arguments, since: Sequence[e.Event], twin: StationTwin | None
) -> str | None:
    for event in since:
        if (
            isinstance(event, e.TransactionStarted)
            and event.connector_id == payload["connector_id"]
            and event.id_tag == payload["id_tag"]
        ):
            return (
                f"the station started transaction {event.transaction_id} on connector "
                f"{event.connector_id} for {event.id_tag}"
            )
    return None


def remote_stop_took_effect(
    payload: Arguments, since: Sequence[e.Event], twin: StationTwin | None
) -> str | None:
    wanted = payload["transaction_id"]
    for event in since:
        if isinstance(event, e.TransactionStopped) and event.transaction_id == wanted:
            return f"the station stopped transaction {wanted}"
    return None


def availability_took_effect(
    payload: Arguments, since: Sequence[e.Event], twin: StationTwin | None
) -> str | None:
    if twin is None:
        return None
    connector_id = payload["connector_id"]
    operative = payload["type"] == AvailabilityType.OPERATIVE
    wanted = ConnectorStatus.AVAILABLE if operative else ConnectorStatus.UNAVAILABLE
    status = twin.connector_status(connector_id)
    if status == wanted:
        return f"connector {connector_id} reports {status}, as the command asked"
    return None


def reservation_took_effect(
    payload: Arguments, since: Sequence[e.Event], twin: StationTwin | None
) -> str | None:
    # A whole-station reservation shows on no connector, so only a connector's does.
    connector_id = payload["connector_id"]
    if twin is None or connector_id == 0:
        return None
    if twin.connector_status(connector_id) == ConnectorStatus.RESERVED:
        return f"connector {connector_id} reports Reserved since the station came back"
    return None
