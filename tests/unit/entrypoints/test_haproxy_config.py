"""The documented front (deploy/haproxy.cfg): what `chargeledger cluster` writes, and
limits that carry the issue's 50,000 stations."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from chargeledger.adapters.ocpp.gateway import connection_room
from chargeledger.entrypoints.cluster import NodeAddress, front_maxconn_here, haproxy_config

DEPLOYED = Path(__file__).parents[3] / "deploy" / "haproxy.cfg"
STATIONS = 50_000


def _sections(config: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in config.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            lines = sections.setdefault(line.strip(), [])
        elif line.strip() and not line.strip().startswith("#"):
            lines.append(line.strip())
    return sections


def _maxconn(lines: list[str]) -> int:
    (value,) = (int(m.group(1)) for line in lines if (m := re.search(r"maxconn (\d+)", line)))
    return value


def test_the_deployed_front_is_the_clusters_own_for_three_nodes() -> None:
    nodes = [NodeAddress(f"node-{n}", 9000 + n, 8000 + n) for n in (1, 2, 3)]
    assert DEPLOYED.read_text() == haproxy_config(nodes, 9000, 8000) + "\n"


def test_the_deployed_front_holds_50000_stations_and_the_operators() -> None:
    sections = _sections(DEPLOYED.read_text())
    whole = _maxconn(sections["global"])
    ocpp, api = _maxconn(sections["frontend ocpp"]), _maxconn(sections["frontend api"])
    assert ocpp >= STATIONS
    assert api >= 1_000
    assert ocpp + api <= whole
    # Each node is given no more than it holds at 20,000 open files, and together the
    # three hold them all.
    per_node = _maxconn([line for line in sections["backend nodes_ocpp"] if "default" in line])
    assert per_node == connection_room(20_000)
    servers = [line for line in sections["backend nodes_ocpp"] if line.startswith("server ")]
    assert per_node * len(servers) >= STATIONS


def test_a_local_front_asks_for_no_more_files_than_this_process_may_open() -> None:
    """HAProxy 2.6 refuses to start when it cannot raise its file limit to 2 x maxconn."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        assert 2 * front_maxconn_here() + 100 <= hard


def test_haproxy_accepts_the_deployed_front() -> None:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        pytest.skip("haproxy is not installed (sh scripts/ensure-haproxy.sh)")
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOYED)], capture_output=True, text=True, timeout=20
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
