"""kill -9 in the middle of a stream of acknowledged appends loses none of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chargeledger.application.ports import NO_STREAM, Metadata
from chargeledger.domain.events import CommandAccepted
from tests.integration.store.conftest import Backend

ROOT = Path(__file__).resolve().parents[3]
WRITERS = 8


def run_and_kill(url: str, acks_before_kill: int) -> list[tuple[str, int, int]]:
    """Start the appender, SIGKILL it once it acknowledged enough, return every ack."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.store.appender", url, str(WRITERS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    acks: list[tuple[str, int, int]] = []
    deadline = time.monotonic() + 60
    try:
        for line in child.stdout:
            if line.startswith(b"ack "):
                _, stream, version, position = line.decode().split()
                acks.append((stream, int(version), int(position)))
            if len(acks) >= acks_before_kill or time.monotonic() > deadline:
                child.send_signal(signal.SIGKILL)
                break
        # Lines written before the kill are acknowledged appends too.
        acks += [
            (stream, int(version), int(position))
            for _, stream, version, position in (
                line.decode().split() for line in child.stdout if line.startswith(b"ack ")
            )
        ]
    finally:
        child.kill()
        returncode = child.wait(10)
    assert returncode == -signal.SIGKILL, child.stderr.read().decode() if child.stderr else ""
    assert len(acks) >= acks_before_kill, "the appender stopped before it was killed"
    return acks


async def test_no_acknowledged_append_is_lost_to_kill_9(durable: Backend) -> None:
    assert durable.url is not None
    store, _ = await durable.open()
    await store.close()
    durable.opened.remove(store)
    acks = run_and_kill(durable.url, acks_before_kill=400)

    store, _ = await durable.open()
    last_acked: dict[str, int] = {}
    for stream, version, _ in acks:
        last_acked[stream] = max(version, last_acked.get(stream, 0))
    stored = {stream: await store.read_stream(stream) for stream in last_acked}
    for stream, version, position in acks:
        recorded = stored[stream][version - 1]
        assert (recorded.version, recorded.position) == (version, position)
        assert recorded.event == CommandAccepted(f"{stream}-{version}", {"n": version})
    for stream, events in stored.items():
        # Versions stay 1..n; an append in flight at the kill may or may not be there.
        assert [r.version for r in events] == list(range(1, len(events) + 1))
        assert len(events) in (last_acked[stream], last_acked[stream] + 1)
    # The store is whole: it takes new appends after the crash.
    await store.append("after-the-crash", [CommandAccepted("x", {})], NO_STREAM, Metadata())
