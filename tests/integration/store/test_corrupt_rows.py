"""A stored event that cannot be decoded gives an error naming its stream and position;
the rest of the store goes on working."""

from __future__ import annotations

import pytest

from chargeledger.application.ports import NO_STREAM, CorruptEventError, Metadata
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import Backend, caught_up


def event(n: int) -> CommandAccepted:
    return CommandAccepted(f"cmd-{n}", {"n": n})


DAMAGE = {
    "unknown-type": ("UPDATE events SET type = %s WHERE stream_id = %s", "RetiredEvent"),
    "missing-fields": ("UPDATE events SET data = %s WHERE stream_id = %s", '{"unexpected": 1}'),
    "not-an-object": ("UPDATE events SET data = %s WHERE stream_id = %s", "[1, 2]"),
    "newer-schema": ("UPDATE events SET schema_version = %s WHERE stream_id = %s", 99),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_a_corrupt_row_is_named_and_nothing_else_stops(durable: Backend, damage: str) -> None:
    store, _ = await durable.open()
    await store.append("good", [event(1)], NO_STREAM, Metadata())
    bad = await store.append("bad", [event(2)], NO_STREAM, Metadata())
    third = await store.append("good", [event(3)], 1, Metadata())
    await caught_up(store, third.last_position)
    sql, value = DAMAGE[damage]
    durable.execute_sql(sql, (value, "bad"))

    with pytest.raises(CorruptEventError) as in_stream:
        await store.read_stream("bad")
    assert (in_stream.value.stream_id, in_stream.value.position) == ("bad", bad.last_position)
    assert "'bad'" in str(in_stream.value) and str(bad.last_position) in str(in_stream.value)
    with pytest.raises(CorruptEventError) as in_log:
        await store.read_all(0)
    assert in_log.value.position == bad.last_position

    # Other streams read, appends go on (also to the damaged stream), and a reader
    # moved past the damaged position reads the rest.
    assert [r.event for r in await store.read_stream("good")] == [event(1), event(3)]
    await store.append("bad", [event(4)], 1, Metadata())
    last = await store.append("other", [event(5)], NO_STREAM, Metadata())
    await caught_up(store, last.last_position)
    rest = await store.read_all(bad.last_position or 0)
    assert [r.event for r in rest] == [event(3), event(4), event(5)]
