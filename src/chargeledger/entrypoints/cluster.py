"""``chargeledger cluster``: a local cluster in one step, for development and tests.

N ``chargeledger serve`` processes on one PostgreSQL database, and HAProxy (from
Debian's packages) in front of them: stations and operators use the front's two
addresses. The front keeps a station on one node by hashing its path
(``/ocpp/{station_id}``), checks every node's ``/readyz``, and sends a station
whose node died (or is not ready) to another one, where it takes over.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from chargeledger.adapters.ocpp.gateway import connection_room


@dataclass(frozen=True)
class NodeAddress:
    node_id: str
    ocpp_port: int
    api_port: int


FRONT_MAXCONN = 60_000
"""The front's connections (deploy/haproxy.cfg): the issue's 50,000 stations with room to
reconnect (55,000), and the operators (5,000); HAProxy needs two files for each."""
NODE_ROOM = connection_room(20_000)
"""A node's OCPP connections at 20,000 open files (18,912)."""


def front_maxconn_here() -> int:
    """The front's connections for a local cluster: what this process's hard file limit
    lets HAProxy hold (HAProxy 2.6 refuses to start when it cannot raise its own limit
    to twice its maxconn)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return FRONT_MAXCONN
    return max(100, min(FRONT_MAXCONN, (hard - 500) // 2))


def haproxy_config(
    nodes: list[NodeAddress],
    ocpp_port: int,
    api_port: int,
    host: str = "127.0.0.1",
    check_interval_ms: int = 500,
    maxconn: int = FRONT_MAXCONN,
) -> str:
    """The front for ``nodes`` holding ``maxconn`` connections, a twelfth of them for the
    operators (deploy/haproxy.cfg is this for three nodes)."""
    api_maxconn = maxconn // 12
    ocpp_maxconn = maxconn - api_maxconn
    check = f"check port {{api}} inter {check_interval_ms} fall 2 rise 2"
    ocpp_servers = "\n".join(
        f"    server {n.node_id} {host}:{n.ocpp_port} {check.format(api=n.api_port)}" for n in nodes
    )
    api_servers = "\n".join(
        f"    server {n.node_id} {host}:{n.api_port} {check.format(api=n.api_port)}" for n in nodes
    )
    return f"""# chargeledger: HAProxy in front of {len(nodes)} nodes on one PostgreSQL database
global
    # Stations and operators. Two files per proxied connection: HAProxy raises its own
    # file limit to about 2 x maxconn and refuses to start when it cannot (strict-limits);
    # 60,000 needs a hard limit of at least 120,100 (systemd: LimitNOFILE=125000).
    maxconn {maxconn}

defaults
    mode http
    timeout connect 2s
    # /readyz writes a probe to the store; under load that can take longer than the
    # check interval, which is the default check timeout.
    timeout check 4s
    timeout client 60s
    timeout server 60s
    # An OCPP WebSocket lives for hours; stations ping, the nodes too.
    timeout tunnel 2h
    timeout client-fin 5s
    # A connection waiting for a full node gets 503 after this; the station retries.
    timeout queue 5s
    option redispatch
    retries 3

frontend ocpp
    bind {host}:{ocpp_port}
    maxconn {ocpp_maxconn}
    default_backend nodes_ocpp

backend nodes_ocpp
    # Sticky by station: the path /ocpp/{{station_id}} picks the node; when that node
    # is down the station goes to another, which takes it over (I8).
    balance uri path-only
    hash-type consistent
    option httpchk GET /readyz
    # A node with 20,000 open files holds {NODE_ROOM} stations (connection_room); more wait
    # here rather than being refused by it. Raise both together.
    default-server maxconn {NODE_ROOM}
{ocpp_servers}

frontend api
    bind {host}:{api_port}
    maxconn {api_maxconn}
    default_backend nodes_api

backend nodes_api
    # Any node answers for every station.
    balance roundrobin
    option httpchk GET /readyz
{api_servers}
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None
    )
    if found is None:
        raise SystemExit(
            "haproxy is not installed: run `sh scripts/ensure-haproxy.sh` "
            "(apt-get install haproxy) and try again"
        )
    return found


def start_haproxy(config: str, folder: Path) -> subprocess.Popen[bytes]:
    path = folder / "haproxy.cfg"
    path.write_text(config)
    log = open(folder / "haproxy.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [haproxy_binary(), "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
    )


def node_command(store: str, address: NodeAddress, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "chargeledger.entrypoints.cli",
        "serve",
        "--store",
        store,
        "--node-id",
        address.node_id,
        "--ocpp-port",
        str(address.ocpp_port),
        "--api-port",
        str(address.api_port),
        *extra,
    ]


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a node exited at start (code {process.returncode}); see its log")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{api_url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"a node at {api_url} did not become ready in {timeout:g} s")


def run_cluster(
    nodes: int,
    store: str,
    ocpp_port: int,
    api_port: int,
    api_token: str,
    extra: list[str],
) -> int:
    """Start ``nodes`` nodes (ports after the front's) and the front; stop all on Ctrl-C."""
    if not store.startswith(("postgresql://", "postgres://")):
        raise SystemExit("a cluster needs a PostgreSQL store: --store postgresql://user@host/db")
    folder = Path(tempfile.mkdtemp(prefix="chargeledger-cluster-"))
    addresses = [NodeAddress(f"node-{n}", ocpp_port + n, api_port + n) for n in range(1, nodes + 1)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for address in addresses:
            log = open(folder / f"{address.node_id}.log", "wb")  # noqa: SIM115
            processes.append(
                subprocess.Popen(
                    node_command(store, address, "--api-token", api_token, *extra),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for address, process in zip(addresses, processes, strict=True):
            wait_healthy(f"http://127.0.0.1:{address.api_port}", process)
        processes.append(
            start_haproxy(
                haproxy_config(addresses, ocpp_port, api_port, maxconn=front_maxconn_here()),
                folder,
            )
        )
        print(f"OCPP front:  ws://127.0.0.1:{ocpp_port}/ocpp/{{station_id}}")
        print(f"HTTP front:  http://127.0.0.1:{api_port}/api/stations")
        print(f"API token:   {api_token}")
        for address in addresses:
            print(
                f"{address.node_id}:      ws://127.0.0.1:{address.ocpp_port}/ocpp  "
                f"http://127.0.0.1:{address.api_port}"
            )
        print(f"Logs and the HAProxy config: {folder}", flush=True)
        stop = False

        def stopping(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, stopping)
        while not stop:
            for process in processes:
                if process.poll() is not None and process is processes[-1]:
                    print("haproxy exited; stopping the cluster", file=sys.stderr)
                    stop = True
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
    return 0
