"""A PostgreSQL server of a test's own (initdb in a temporary folder, a free port), which
the test may stop and start, and a TCP relay in front of it that a test can cut, to
take one node away from the database while the others keep it."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port


def _server_binaries() -> Path | None:
    """Debian's server binaries, newest version first (as scripts/ensure-postgres.sh)."""
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(f.split("/")[4]))
    found = [Path(f) for f in folders if (Path(f) / "initdb").exists()]
    return found[-1] if found else None


class PrivateServer:
    """One PostgreSQL server in a folder of its own, run as a user other than root
    (PostgreSQL refuses root); never the machine's shared server."""

    def __init__(self, binaries: Path) -> None:
        self._binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="chargeledger-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._user = "nobody" if os.geteuid() == 0 else None
        if self._user is not None:
            shutil.chown(self.folder, self._user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    @property
    def base(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        subprocess.run(
            [str(self._binaries / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
            cwd=self.folder,
            timeout=timeout,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(f"{self.base}/postgres", connect_timeout=2),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"private PostgreSQL did not start; see {self.folder}/log")
            time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def database(self, name: str) -> str:
        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return f"{self.base}/{name}"


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivateServer]:
    binaries = _server_binaries()
    if binaries is None:
        pytest.fail("no PostgreSQL server binaries: run scripts/ensure-postgres.sh (make test)")
    server = PrivateServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.remove()


class CuttableRelay:
    """A TCP relay to PostgreSQL on 127.0.0.1, in a thread of its own (the nodes reach
    the database through it while the test blocks): ``cut()`` closes every connection
    through it and refuses new ones until ``restore()``, as a partition would."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._open: set[asyncio.StreamWriter] = set()
        self.is_cut = False
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = int(server.sockets[0].getsockname()[1])
        started.set()
        self._loop.run_forever()
        server.close()

    def url(self, database_url: str) -> str:
        return database_url.replace(f":{self._target_port}/", f":{self.port}/")

    def cut(self) -> None:
        done = threading.Event()

        def cut_now() -> None:
            self.is_cut = True
            for writer in list(self._open):
                writer.transport.abort()
            self._open.clear()
            done.set()

        self._loop.call_soon_threadsafe(cut_now)
        done.wait(5)

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open -= {writer, up_writer}
