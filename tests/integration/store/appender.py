"""A child process for the kill -9 test: appends without end from several tasks and
prints one line per acknowledged append (``ack STREAM VERSION POSITION``)."""

from __future__ import annotations

import asyncio
import sys

from chargeledger.application.ports import Metadata
from chargeledger.domain.events import CommandAccepted
from tests.stores import open_test_stores


async def main(url: str, writers: int) -> None:
    store, _ = await open_test_stores(url)

    async def writer(w: int) -> None:
        version = 0
        while True:
            stream = f"kill-{w}"
            command_id = f"{stream}-{version + 1}"
            result = await store.append(
                stream,
                [CommandAccepted(command_id, {"n": version + 1})],
                version,
                Metadata(command_id=command_id),
            )
            version = result.version
            sys.stdout.write(f"ack {stream} {version} {result.last_position}\n")
            sys.stdout.flush()

    print("ready", flush=True)
    await asyncio.gather(*(writer(w) for w in range(writers)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
