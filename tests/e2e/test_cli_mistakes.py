"""A user's mistake with the real ``chargeledger`` command ends in one clear line on
stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chargeledger.adapters.sqlite_database import SQLiteDatabase
from chargeledger.application.ports import Metadata
from chargeledger.domain.events import StationBooted
from tests.stores import sqlite_event_store

CHARGELEDGER = shutil.which("chargeledger", path=str(Path(sys.executable).parent)) or "chargeledger"


def run(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHARGELEDGER_")}
    return subprocess.run(
        [CHARGELEDGER, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment,
    )


def one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_store_url_of_no_known_kind(tmp_path: Path) -> None:
    result = run("stations", "list", "--store", "mysql://somewhere/db", cwd=tmp_path)
    one_clear_line(result, "--store", "mysql://somewhere/db", "sqlite:///", "postgresql://")
    assert result.returncode == 2


def test_an_unreachable_postgresql(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nobody listens there once it is closed
    result = run("events", "--store", f"postgresql://postgres@127.0.0.1:{port}/x", cwd=tmp_path)
    one_clear_line(result, f"127.0.0.1:{port}", "PostgreSQL")


@pytest.mark.parametrize(
    ("store", "words"),
    [
        ("postgresql://", ["--store", "libpq", "postgresql://user@host"]),
        ("postgresql://postgres@127.0.0.1:1/x?pool_max=many", ["--store", "?pool_max=many"]),
    ],
)
def test_a_postgresql_url_libpq_cannot_read(tmp_path: Path, store: str, words: list[str]) -> None:
    one_clear_line(run("stations", "list", "--store", store, cwd=tmp_path), *words)


@pytest.mark.postgres
def test_a_role_that_may_not_create_the_schema(tmp_path: Path, postgres_dsn: str) -> None:
    import uuid

    import psycopg

    role = f"cl_ro_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
    try:
        server, database = postgres_dsn.rsplit("/", 1)
        host = server.split("@", 1)[1]
        store = f"postgresql://{role}@{host}/{database}"
        result = run("stations", "list", "--store", store, cwd=tmp_path)
        one_clear_line(result, "cannot prepare the schema", "create tables")
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_sqlite_file_in_a_missing_folder(tmp_path: Path) -> None:
    result = run("events", "--store", f"sqlite:///{tmp_path}/no/such/dir/x.db", cwd=tmp_path)
    one_clear_line(result, "cannot open the store")


def test_a_busy_port_is_named_and_serve_stops_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run(
            "serve",
            "--store",
            f"sqlite:///{tmp_path}/n.db",
            "--ocpp-port",
            str(port),
            "--api-port",
            "0",
            cwd=tmp_path,
        )
        elapsed = time.monotonic() - started
    one_clear_line(result, str(port), "--ocpp-port", "in use")
    # "At once": about as long as any short command takes to start on this machine
    # (loaded or not), not the seconds of retries it took before.
    started = time.monotonic()
    run("stations", "list", "--store", f"sqlite:///{tmp_path}/other.db", cwd=tmp_path)
    short_command = time.monotonic() - started
    assert elapsed < short_command + 3, (elapsed, short_command)


def test_a_missing_body_file(tmp_path: Path) -> None:
    result = run("send", "CP-1", "reset", "--body", "@missing.json", cwd=tmp_path)
    one_clear_line(result, "missing.json", "No such file")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["send", "CP-1", "reset", "--api", "127.0.0.1:8000"], ["--api", "http/https"]),
        (["send", "CP-1", "reset", "--api", "http://[::1"], ["--api", "not a URL"]),
        (["simulate", "--url", "http://127.0.0.1:9000/ocpp"], ["--url", "ws/wss"]),
        (["simulate", "--url", "127.0.0.1:9000/ocpp"], ["--url", "ws/wss"]),
    ],
)
def test_a_url_of_the_wrong_kind_is_said_at_once(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    # The simulator used to retry such a URL until --duration ran out (here: forever).
    result = run(*args, cwd=tmp_path, timeout=20)
    one_clear_line(result, *words)
    assert result.returncode == 2


def test_a_scenario_with_a_url_of_the_wrong_kind_names_the_file(tmp_path: Path) -> None:
    scenario = tmp_path / "site.json"
    scenario.write_text(
        '{"url": "http://127.0.0.1:9000/ocpp", "stations": [{"id": "S-1"}], "events": []}'
    )
    result = run("simulate", "--scenario", str(scenario), cwd=tmp_path, timeout=20)
    one_clear_line(result, "site.json: url", "ws/wss")


def test_an_api_that_is_not_a_node_is_one_line(tmp_path: Path) -> None:
    """A server that answers but not with the node's JSON (another service on the port)."""
    import http.server
    import threading

    class NotANode(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(202)
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotANode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}"
        result = run("send", "CP-1", "reset", "--api", api, cwd=tmp_path)
    finally:
        server.shutdown()
    one_clear_line(result, api, "JSON")


def test_a_body_that_is_not_json(tmp_path: Path) -> None:
    result = run("send", "CP-1", "reset", "--body", "{type: Soft}", cwd=tmp_path)
    one_clear_line(result, "--body is not JSON")


def test_a_wrong_log_level_lists_the_valid_ones(tmp_path: Path) -> None:
    result = run("--log-level", "LOUD", "events", cwd=tmp_path)
    assert result.returncode == 2
    one_clear_line(result, "DEBUG, INFO, WARNING, ERROR", "chargeledger --help")
    after = run("serve", "--log-level", "LOUD", cwd=tmp_path)  # not serve's usage block
    one_clear_line(after, "--log-level", "DEBUG, INFO, WARNING, ERROR", "chargeledger serve --help")
    # In the environment too: the same check, the same message.
    environment = {**os.environ, "CHARGELEDGER_LOG_LEVEL": "chatty"}
    from_env = subprocess.run(
        [CHARGELEDGER, "events"], capture_output=True, text=True, cwd=tmp_path, env=environment
    )
    assert from_env.returncode == 2
    assert "DEBUG, INFO, WARNING, ERROR" in from_env.stderr


def _seed(path: Path, stations: int) -> None:
    async def seed() -> None:
        store = sqlite_event_store(SQLiteDatabase(path))
        for n in range(stations):
            booted = StationBooted(f"CP-{n}", "Accepted", "V", "M", "1.0", "2026-01-01T00:00:00Z")
            await store.append(f"station-CP-{n}", [booted], 0, Metadata())
        await store.close()

    asyncio.run(seed())


def test_events_of_a_stream_that_does_not_exist(tmp_path: Path) -> None:
    _seed(tmp_path / "e.db", 2)
    store = f"sqlite:///{tmp_path}/e.db"
    line = one_clear_line(run("events", "--stream", "NOPE", "--store", store, cwd=tmp_path))
    assert "no such stream" in line and "NOPE" in line
    found = run("events", "--stream", "CP-1", "--store", store, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "StationBooted" in found.stdout and "CP-0" not in found.stdout


def test_events_into_a_reader_that_stops_early(tmp_path: Path) -> None:
    _seed(tmp_path / "e.db", 3000)
    command = f"{CHARGELEDGER} events --store sqlite:///{tmp_path}/e.db | head -n 2"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr == "", result.stderr
    assert result.returncode in (0, 141)


def test_a_rebuild_into_a_pipe_shows_its_progress_as_plain_lines(tmp_path: Path) -> None:
    async def seed() -> None:  # 20,000 events in 40 appends: a rebuild of about 2 s
        store = sqlite_event_store(SQLiteDatabase(tmp_path / "e.db"))
        for n in range(40):
            booted = StationBooted(f"CP-{n}", "Accepted", "V", "M", "1.0", "2026-01-01T00:00:00Z")
            await store.append(f"station-CP-{n}", [booted] * 500, 0, Metadata())
        await store.close()

    asyncio.run(seed())
    result = run("projections", "rebuild", "--store", f"sqlite:///{tmp_path}/e.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr  # a pipe gets lines, not a bar redrawn in place
    assert "rebuilding: at position " in result.stderr and " of 20000 (" in result.stderr
    assert "rebuilt from 20000 positions" in result.stdout


def test_stations_list_says_what_it_lists(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/r.db"
    assert run("stations", "add", "CP-1", "--store", store, cwd=tmp_path).returncode == 0
    listed = run("stations", "list", "--store", store, cwd=tmp_path)
    assert listed.returncode == 0
    assert listed.stdout.startswith("CP-1\t")
    assert "registry" in listed.stderr and "GET /api/stations" in listed.stderr


@pytest.mark.parametrize("before", [True, False])
def test_shared_options_before_or_after_the_subcommand(tmp_path: Path, before: bool) -> None:
    store = f"sqlite:///{tmp_path}/r.db"
    shared = ["--store", store, "--log-level", "debug", "--log-format", "json"]
    args = [*shared, "stations", "add", "CP-9"] if before else ["stations", "add", "CP-9", *shared]
    assert run(*args, cwd=tmp_path).returncode == 0
    listed = run("stations", "list", "--store", store, cwd=tmp_path)
    assert "CP-9" in listed.stdout


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--store", "sqlite:///{tmp}/no/such/dir/x.db"], ["folder does not exist"]),
        (["--store", "postgresql://postgres@127.0.0.1:{closed}/x"], ["PostgreSQL", "{closed}"]),
        (["--tls-cert", "{tmp}/missing.pem"], ["--tls-cert"]),
        (["--store", "redis://x"], ["--store", "unsupported"]),
    ],
)
def test_serve_with_an_unusable_store_or_certificate(
    tmp_path: Path, options: list[str], words: list[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = str(closed.getsockname()[1])
    fill = {"tmp": str(tmp_path), "closed": port}
    args = [o.format(**fill) for o in options]
    if "--store" not in args:
        args += ["--store", f"sqlite:///{tmp_path}/n.db"]
    result = run("serve", *args, "--ocpp-port", "0", "--api-port", "0", cwd=tmp_path)
    one_clear_line(result, *(w.format(**fill) for w in words))


def test_too_few_files_for_the_ocpp_port_is_one_line_naming_ulimit(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHARGELEDGER_")}
    result = subprocess.run(
        [CHARGELEDGER, "serve", "--store", f"sqlite:///{tmp_path}/n.db", "--ocpp-port", "0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
        env=environment,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (30, 30)),
    )
    line = one_clear_line(result, "only 30 files", "raise ulimit -n")
    assert not line.startswith("chargeledger: --store"), line
