"""Reconciling a command whose fate is in doubt: what the station did since the dispatch.

A Reset has no observer: a BootNotification after it could be the reboot it asked
for or a reconnect for another reason, so a Reset in doubt ends failed, not guessed.

A command is in doubt when its ``CommandDispatched`` is recorded but no answer is:
the node died, or the connection dropped, between sending the CALL and recording
the answer. Re-sending it blindly could start a second charge or reset a station
twice, so we look for the command's effect instead (ARCHITECTURE.md flow 4).
Each function answers with the evidence that the command took effect, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chargeledger.application.ports import RecordedEvent
from chargeledger.domain import events as e
from chargeledger.domain.enums import AvailabilityType, ConnectorStatus
from chargeledger.domain.twin import StationTwin

Observer = Callable[[Mapping[str, Any], Sequence[RecordedEvent], StationTwin | None], str | None]


def _remote_start(
    payload: Mapping[str, Any], since: Sequence[RecordedEvent], twin: StationTwin | None
) -> str | None:
    for recorded in since:
        event = recorded.event
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


def _remote_stop(
    payload: Mapping[str, Any], since: Sequence[RecordedEvent], twin: StationTwin | None
) -> str | None:
    wanted = payload["transaction_id"]
    for recorded in since:
        event = recorded.event
        if isinstance(event, e.TransactionStopped) and event.transaction_id == wanted:
            return f"the station stopped transaction {wanted}"
    return None


def _change_availability(
    payload: Mapping[str, Any], since: Sequence[RecordedEvent], twin: StationTwin | None
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


def _reserve_now(
    payload: Mapping[str, Any], since: Sequence[RecordedEvent], twin: StationTwin | None
) -> str | None:
    # A whole-station reservation shows on no connector, so only a connector's does.
    connector_id = payload["connector_id"]
    if twin is None or connector_id == 0:
        return None
    if twin.connector_status(connector_id) == ConnectorStatus.RESERVED:
        return f"connector {connector_id} reports Reserved since the station came back"
    return None


OBSERVERS: dict[str, Observer] = {
    "remote-start": _remote_start,
    "remote-stop": _remote_stop,
    "change-availability": _change_availability,
    "reserve-now": _reserve_now,
}


def observed_effect(
    name: str,
    payload: Mapping[str, Any],
    since: Sequence[RecordedEvent],
    twin: StationTwin | None,
) -> str | None:
    """The evidence that command ``name`` with ``payload`` took effect, or ``None``."""
    observe = OBSERVERS.get(name)
    return None if observe is None else observe(payload, since, twin)


NOT_OBSERVED = (
    "in doubt: the station may or may not have acted (the connection or the node was lost "
    "before its answer was recorded) and no effect was observed; check the station before "
    "sending it again"
)
