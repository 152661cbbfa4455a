"""Builders for given/when/then tests on the station decider."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from chargeledger.domain import commands as c
from chargeledger.domain import events as e
from chargeledger.domain.enums import UnknownStations
from chargeledger.domain.id_tags import IdTagInfo
from chargeledger.domain.remote_start_policy import NO_SNAPSHOT, TwinSnapshot
from chargeledger.domain.station import decide, fold

AT = "2026-01-01T00:00:00+00:00"
LATER = "2026-01-01T00:10:00+00:00"
AFTER_EXPIRY = "2026-01-01T00:11:00+00:00"
STAMP = "2026-01-01T00:01:00Z"
ACCEPTED_TAG = IdTagInfo("Accepted")


def given(*events: e.Event) -> list[e.Event]:
    return list(events)


def when(history: list[e.Event], command: c.Command) -> list[e.Event]:
    return decide(command, fold(history))


def twin(**connectors: str) -> TwinSnapshot:
    """``twin(c1="Available", c0="Unavailable")``: connector statuses the twin reported."""
    return TwinSnapshot(MappingProxyType({int(k[1:]): v for k, v in connectors.items()}))


def booted(registration: str = "Accepted") -> e.StationBooted:
    return e.StationBooted("CP1", registration, "v", "m", None, AT)


def boot(known: bool = True, policy: UnknownStations = UnknownStations.ACCEPT) -> c.RegisterBoot:
    return c.RegisterBoot("b1", "CP1", "v", "m", None, AT, known, policy)


def _common(command_id: str, at: str, snapshot: TwinSnapshot) -> dict[str, Any]:
    return {"command_id": command_id, "requested_at": at, "expires_at": LATER, "twin": snapshot}


def start(
    command_id: str = "cmd-1",
    connector: int = 1,
    tag: str = "TAG",
    at: str = AT,
    snapshot: TwinSnapshot = NO_SNAPSHOT,
) -> c.RequestRemoteStart:
    return c.RequestRemoteStart(
        connector_id=connector, id_tag=tag, **_common(command_id, at, snapshot)
    )


def requested(command_id: str = "cmd-1", connector: int | None = 1, tag: str = "TAG") -> e.Event:
    return e.RemoteStartRequested(
        command_id=command_id, requested_at=AT, expires_at=LATER, connector_id=connector, id_tag=tag
    )


def remote_stop(
    command_id: str = "stop-1",
    transaction_id: int = 7,
    recorded: c.RecordedTransaction | None = None,
) -> c.RequestRemoteStop:
    return c.RequestRemoteStop(
        transaction_id=transaction_id, recorded=recorded, **_common(command_id, AT, NO_SNAPSHOT)
    )


def unlock(
    command_id: str = "unlock-1", connector: int = 1, snapshot: TwinSnapshot = NO_SNAPSHOT
) -> c.RequestUnlockConnector:
    return c.RequestUnlockConnector(connector_id=connector, **_common(command_id, AT, snapshot))


def reset(command_id: str = "reset-1", kind: str = "Soft") -> c.RequestReset:
    return c.RequestReset(reset_type=kind, **_common(command_id, AT, NO_SNAPSHOT))


def availability(
    command_id: str = "avail-1",
    connector: int = 0,
    kind: str = "Inoperative",
    snapshot: TwinSnapshot = NO_SNAPSHOT,
) -> c.RequestChangeAvailability:
    return c.RequestChangeAvailability(
        connector_id=connector, availability_type=kind, **_common(command_id, AT, snapshot)
    )


def trigger(
    command_id: str = "trigger-1", message: str = "StatusNotification", connector: int | None = None
) -> c.RequestTriggerMessage:
    return c.RequestTriggerMessage(
        requested_message=message, connector_id=connector, **_common(command_id, AT, NO_SNAPSHOT)
    )


def dispatch(target: str = "cmd-1") -> c.MarkDispatched:
    return c.MarkDispatched(f"{target}:dispatch:1", target, 1, 7, AT)


def dispatched(target: str = "cmd-1") -> e.CommandDispatched:
    return e.CommandDispatched(target, 1, 7, AT)


def outcome(kind: str, target: str = "cmd-1") -> c.RecordOutcome:
    return c.RecordOutcome(f"{target}:{kind}", target, kind)


def start_transaction(
    transaction_id: int = 7,
    connector: int = 1,
    tag: str = "TAG",
    meter_start: int = 1000,
    timestamp: str = STAMP,
    info: IdTagInfo = ACCEPTED_TAG,
) -> c.StartTransaction:
    return c.StartTransaction(
        command_id=f"start:{connector}:{tag}:{meter_start}:{timestamp}",
        connector_id=connector,
        id_tag=tag,
        meter_start=meter_start,
        timestamp=timestamp,
        transaction_id=transaction_id,
        id_tag_info=info,
    )


def started(
    transaction_id: int = 7,
    connector: int = 1,
    tag: str = "TAG",
    meter_start: int = 1000,
    timestamp: str = STAMP,
    remote_start: str | None = None,
    status: str = "Accepted",
) -> e.TransactionStarted:
    return e.TransactionStarted(
        transaction_id=transaction_id,
        connector_id=connector,
        id_tag=tag,
        id_tag_status=status,
        id_tag_expiry=None,
        meter_start=meter_start,
        started_at=timestamp,
        remote_start_command_id=remote_start,
    )


def stop_transaction(
    transaction_id: int = 7, meter_stop: int = 5000, tag: str | None = "TAG"
) -> c.StopTransaction:
    return c.StopTransaction(
        command_id=f"stop:{transaction_id}",
        transaction_id=transaction_id,
        meter_stop=meter_stop,
        timestamp="2026-01-01T01:00:00Z",
        id_tag=tag,
        id_tag_info=ACCEPTED_TAG if tag else None,
        reason="Local",
    )


def stopped(
    transaction_id: int = 7, connector: int = 1, meter_stop: int = 5000, meter_start: int = 1000
) -> e.TransactionStopped:
    return e.TransactionStopped(
        transaction_id=transaction_id,
        connector_id=connector,
        meter_stop=meter_stop,
        stopped_at="2026-01-01T01:00:00Z",
        id_tag="TAG",
        id_tag_status="Accepted",
        reason="Local",
        energy_wh=meter_stop - meter_start,
    )


READING = [{"timestamp": STAMP, "sampledValue": [{"value": "1500"}]}]


def meter_values(transaction_id: int = 7, connector: int = 1) -> c.RecordMeterValues:
    return c.RecordMeterValues(
        command_id=f"meter:{transaction_id}",
        connector_id=connector,
        transaction_id=transaction_id,
        meter_value=READING,
    )
