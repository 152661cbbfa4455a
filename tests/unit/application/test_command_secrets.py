"""set-network-profile's secrets: sealed out of the request event, kept in a document
for the CALL, put back only there, and deleted when nothing can send them any more
(a refusal, a repeat, the command's end, a crash that left them behind)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeledger.adapters.memory import InMemoryDocumentStore, InMemoryEventStore
from chargeledger.adapters.ocpp.connection_log import redacted
from chargeledger.application.command_handler import CommandHandler
from chargeledger.application.command_secrets import (
    MARKER,
    SECRETS,
    CommandSecrets,
    forgotten,
    marked,
    seal,
    unseal,
)
from chargeledger.application.outgoing_commands import OutgoingCommand
from chargeledger.application.ports import DocumentWrite
from chargeledger.application.read_model_documents import COMMANDS
from chargeledger.application.twin_service import TwinService
from chargeledger.bootstrap import build_use_cases
from chargeledger.config import Settings
from chargeledger.domain.enums import CommandStatus
from chargeledger.domain.errors import DomainError, IdempotencyKeyReusedError
from tests.fakes import FakeClock
from tests.stores import MemoryEventStore

NAME = "set-network-profile"


def network(password: str = "s3cret", key: str = "k3y", apn_password: str | None = "apn") -> Any:
    return {
        "configuration_slot": 1,
        "connection_data": {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example/sealed:x",
            "message_timeout": 30,
            "security_profile": 1,
            "ocpp_interface": "Wired0",
            "vpn": {"server": "v", "user": "u", "password": password, "key": key, "type": "L2TP"},
            "apn": {"apn": "a", "apn_password": apn_password, "apn_authentication": "PAP"},
        },
    }


def test_each_secret_is_replaced_by_a_marker_naming_its_command() -> None:
    given_body = network(apn_password=None)
    sealed, secrets = seal(NAME, "np-1", given_body)
    assert secrets == {"connection_data.vpn.password": "s3cret", "connection_data.vpn.key": "k3y"}
    vpn = sealed["connection_data"]["vpn"]
    assert vpn["password"] == vpn["key"] == MARKER + "np-1"
    assert sealed["connection_data"]["apn"]["apn_password"] is None  # nothing to seal
    assert given_body == network(apn_password=None)  # the body itself is left as it was
    assert seal("reset", "r-1", {"type": "Soft"}) == ({"type": "Soft"}, {})


@given(
    password=st.text(max_size=20),
    key=st.text(max_size=255),
    apn_password=st.none() | st.text(max_size=20),
    command_id=st.text(min_size=1, max_size=40),
)
def test_unsealing_gives_back_the_body_and_the_log_never_holds_a_secret(
    password: str, key: str, apn_password: str | None, command_id: str
) -> None:
    body = network(password, key, apn_password)
    sealed, secrets = seal(NAME, command_id, body)
    vpn = sealed["connection_data"]["vpn"]
    assert (vpn["password"], vpn["key"]) == (MARKER + command_id, MARKER + command_id)
    assert unseal(NAME, command_id, sealed, secrets) == body
    assert unseal(NAME, command_id, sealed, {}) is None  # never a marker to the station
    assert marked(NAME, "another", sealed) == []  # the marker names its own command


def outgoing(payload: Any, command_id: str = "np-1") -> OutgoingCommand:
    return OutgoingCommand(
        command_id, "CP1", NAME, payload, CommandStatus.REQUESTED, datetime.now(UTC), 1
    )


def operator_of_a_2_0_1_station() -> tuple[InMemoryEventStore, InMemoryDocumentStore, Any]:
    """The node's operator commands over in-memory stores, CP1 connected on 2.0.1."""
    store, documents, clock = MemoryEventStore(), InMemoryDocumentStore(), FakeClock()
    twin = TwinService(documents, clock)
    twin.connected("CP1", 1, "ocpp2.0.1")
    handler = CommandHandler(store, clock)
    return (
        store,
        documents,
        build_use_cases(Settings(), clock, handler, documents, twin, store).operator,
    )


async def test_the_dispatcher_reads_them_back_and_the_first_ones_kept_stand() -> None:
    documents = InMemoryDocumentStore()
    secrets = CommandSecrets(documents)
    sealed, kept = seal(NAME, "np-1", network())
    assert await secrets.keep("CP1", "np-1", kept, datetime.now(UTC))
    assert not await secrets.keep("CP1", "np-1", dict(kept), datetime.now(UTC))
    with pytest.raises(IdempotencyKeyReusedError):  # the same key, another password
        await secrets.keep("CP1", "np-1", seal(NAME, "np-1", network("x"))[1], datetime.now(UTC))
    assert await secrets.unsealed(outgoing(sealed)) == network()
    plain = {"type": "Soft"}
    assert await secrets.unsealed(outgoing(plain)) is plain
    await secrets.forget("CP1", "np-1")
    assert await secrets.unsealed(outgoing(sealed)) is None


async def test_the_sweep_deletes_only_what_no_open_command_can_still_send() -> None:
    documents = InMemoryDocumentStore()
    secrets = CommandSecrets(documents)
    now = datetime.now(UTC)
    long_ago = now - timedelta(hours=2)
    await secrets.keep("CP1", "never-appended", {"a": 1}, long_ago)
    await secrets.keep("CP1", "still-open", {"a": 1}, long_ago)
    await secrets.keep("CP1", "fresh", {"a": 1}, now)
    view = {"command_id": "still-open", "station_id": "CP1", "status": "dispatched"}
    await documents.write([DocumentWrite(COMMANDS, "still-open", view)])
    assert await secrets.sweep(now) == 1
    left = {doc["command_id"] for doc in await documents.list(SECRETS)}
    assert left == {"still-open", "fresh"}


def test_the_projection_deletes_the_secrets_of_sealed_commands_that_ended() -> None:
    commands: Any = {
        "a": {"command_id": "a", "station_id": "CP1", "name": NAME, "status": "accepted"},
        "b": {"command_id": "b", "station_id": "CP1", "name": NAME, "status": "dispatched"},
        "c": {"command_id": "c", "station_id": "CP1", "name": "reset", "status": "accepted"},
    }
    assert [(w.model, w.key, w.doc) for w in forgotten(commands)] == [(SECRETS, "CP1/a", None)]


async def test_a_refused_or_repeated_request_leaves_no_secret_behind() -> None:
    store, documents, operator = operator_of_a_2_0_1_station()
    await operator.request("CP1", "np-1", NAME, network())
    [kept] = await documents.list(SECRETS)
    assert kept["secrets"]["connection_data.vpn.password"] == "s3cret"
    with pytest.raises(DomainError):  # the slot is taken by np-1, still open
        await operator.request("CP1", "np-2", NAME, network("other"))
    await operator.request("CP1", "np-1", NAME, network())  # a repeat: np-1's stand
    assert [d["command_id"] for d in await documents.list(SECRETS)] == ["np-1"]
    with pytest.raises(IdempotencyKeyReusedError):  # np-1's key with another password
        await operator.request("CP1", "np-1", NAME, network("other"))
    assert [d["secrets"] for d in await documents.list(SECRETS)] == [kept["secrets"]]
    logged = str([r.event for r in await store.read_all(0)])
    assert "s3cret" not in logged and "k3y" not in logged and MARKER + "np-1" in logged


def test_the_debug_log_of_a_set_network_profile_call_holds_no_secret() -> None:
    frame = (
        '[2,"u1","SetNetworkProfile",{"configurationSlot":1,"connectionData":'
        '{"vpn":{"password":"s3cret","key":"k3y","user":"u"},'
        '"apn":{"apnPassword":"apn","simPin":1234}}}]'
    )
    shown = redacted(frame)
    assert not [s for s in ("s3cret", "k3y", ':"apn"', "1234") if s in shown]
    assert '"user":"u"' in shown
    other = '[2,"u2","Reset",{"type":"Immediate","key":"k"}]'
    assert redacted(other) == other


async def test_a_repeat_after_the_command_ended_gets_it_back_and_keeps_nothing() -> None:
    _, documents, operator = operator_of_a_2_0_1_station()
    first = await operator.request("CP1", "np-1", NAME, network())
    ended = {**first, "status": "accepted"}  # as the projection shows it once answered
    await documents.write(
        [DocumentWrite(COMMANDS, "np-1", ended), DocumentWrite(SECRETS, "CP1/np-1", None)]
    )
    again = await operator.request("CP1", "np-1", NAME, network())
    assert again["command_id"] == "np-1"
    assert await documents.list(SECRETS) == []


async def test_of_two_requests_with_one_key_at_once_the_open_one_keeps_its_secrets() -> None:
    _, documents, operator = operator_of_a_2_0_1_station()
    await operator.request("CP1", "np-1", NAME, network())
    # The second found no secrets kept (it looked before the first wrote them) and
    # writes them again: what it writes is what the open request will send.
    await documents.write([DocumentWrite(SECRETS, "CP1/np-1", None)])
    await operator.request("CP1", "np-1", NAME, network())
    [kept] = await documents.list(SECRETS)
    assert kept["secrets"]["connection_data.vpn.password"] == "s3cret"
