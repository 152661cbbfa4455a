"""The packaging around the code says what the code does: the Dockerfile, compose.yaml
and the systemd unit start ``chargeledger`` with options its CLI really has, the
licence is declared, ``make serve`` installs no test tools, and the README links
nothing outside the repository and carries no example that goes stale."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from chargeledger.entrypoints.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "CHARGELEDGER_"


def _interpolate(text: str) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME:?message}``, with a value for the
    required ones, as a user who set them would have."""

    def value(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if op == ":-":
            return rest
        return f"set-{name.lower()}"

    return re.sub(r"\$\{([A-Z_]+)(:-|:\?)([^}]*)\}", value, text)


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(_interpolate((ROOT / "compose.yaml").read_text()))
    return loaded


def _parse_with_environment(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], environment: dict[str, str]
) -> Any:
    """Parse as the CLI would inside that environment; every ``CHARGELEDGER_*`` name
    must set an option of the subcommand to its value."""
    for name in [n for n in list(__import__("os").environ) if n.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(argv)
    for name, value in environment.items():
        if not name.startswith(PREFIX):
            continue
        option = name[len(PREFIX) :].lower()
        assert hasattr(args, option), f"{name}: `chargeledger {argv[0]}` has no --{option}"
        if f"--{option.replace('_', '-')}" not in argv:
            assert str(getattr(args, option)) == value, f"{name} does not set --{option}"
    return args


# -- licence -------------------------------------------------------------------


def test_the_licence_is_apache_2_and_the_package_declares_it() -> None:
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert "LICENSE" in project["license-files"]


def test_the_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert re.search(r"^## \[\d+\.\d+\.\d+\] - \d{4}-\d\d-\d\d$", text, re.M)


# -- compose.yaml --------------------------------------------------------------


def _nodes(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build") is not None or "chargeledger" in str(service.get("image", ""))
    }


def test_compose_runs_postgresql_and_two_nodes_that_wait_for_it() -> None:
    compose = _compose()
    services = compose["services"]
    databases = [n for n, s in services.items() if str(s.get("image", "")).startswith("postgres")]
    assert len(databases) == 1
    database = services[databases[0]]
    assert "pg_isready" in " ".join(database["healthcheck"]["test"])
    nodes = _nodes(compose)
    assert len(nodes) == 2
    for name, node in nodes.items():
        assert node["depends_on"][databases[0]]["condition"] == "service_healthy", name


def test_every_node_in_compose_is_started_with_options_serve_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = _compose()
    database = next(n for n, s in compose["services"].items() if "postgres" in str(s["image"]))
    node_ids, host_ports = set(), []
    for name, node in _nodes(compose).items():
        command = node["command"]
        assert command[0] == "serve", name
        args = _parse_with_environment(monkeypatch, command, node["environment"])
        assert args.store.startswith("postgresql://"), name
        assert f"@{database}:5432/" in args.store, f"{name} does not use the {database} service"
        assert args.host == "0.0.0.0", f"{name} would listen only inside its container"
        assert args.api_token, name
        node_ids.add(args.node_id)
        published = {int(p.split(":")[1]): int(p.split(":")[0]) for p in node["ports"]}
        assert set(published) == {args.ocpp_port, args.api_port}, name
        host_ports.extend(published.values())
    assert len(node_ids) == 2, "each node needs its own --node-id"
    assert len(host_ports) == len(set(host_ports))


def test_compose_asks_for_the_api_token_instead_of_choosing_one() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert re.search(r"CHARGELEDGER_API_TOKEN: \$\{CHARGELEDGER_API_TOKEN:\?", text)


# -- Dockerfile ----------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    found = []
    for line in lines:
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (k, _) in enumerate(instructions) if k == "FROM")
    return instructions[last_from:]


def _env(rest: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(rest))


def test_the_image_is_built_on_the_official_python_image_and_runs_as_non_root() -> None:
    bases = [rest.split()[0] for keyword, rest in _instructions() if keyword == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.1[1-9]-slim", b) for b in bases), bases
    users = [rest for keyword, rest in _final_stage() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_the_image_runs_chargeledger_serve_with_options_it_has(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stage = dict(_final_stage())
    entrypoint, command = json.loads(stage["ENTRYPOINT"]), json.loads(stage["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint == ["chargeledger"] and "chargeledger" in scripts
    assert command[0] == "serve"
    environment = {}
    for keyword, rest in _final_stage():
        if keyword == "ENV":
            environment.update(_env(rest))
    args = _parse_with_environment(monkeypatch, command, environment)
    assert args.host == "0.0.0.0"
    exposed = {int(port) for port in stage["EXPOSE"].split()}
    assert exposed == {args.ocpp_port, args.api_port}
    health = stage["HEALTHCHECK"]
    assert "/readyz" in health and "CHARGELEDGER_API_PORT" in health


def test_the_image_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from" not in rest:
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored, f"{source} is in .dockerignore"


@pytest.mark.skipif(
    shutil.which("hadolint") is None and not (Path(sys.executable).parent / "hadolint").exists(),
    reason="hadolint is not installed",
)
def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- systemd -------------------------------------------------------------------


def _unit() -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in (ROOT / "deploy/systemd/chargeledger.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current[key] = value
    return sections


def test_the_systemd_unit_starts_a_command_the_package_installs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = _unit()["Service"]
    program, *argv = shlex.split(service["ExecStart"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert Path(program).is_absolute() and Path(program).name in scripts
    # Every option from the environment file: an option on the command line would
    # silently win over the file a user edits (the store, say, when moving to PostgreSQL).
    assert argv == ["serve"], argv
    example = ROOT / "deploy/systemd/chargeledger.env"
    environment = dict(
        line.split("=", 1)
        for line in example.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert service["EnvironmentFile"].lstrip("-").endswith(example.name)
    _parse_with_environment(monkeypatch, argv, environment)
    assert environment["CHARGELEDGER_STORE"].startswith("sqlite:////var/lib/chargeledger/")
    assert service["StateDirectory"] == "chargeledger"
    assert service["User"] != "root"
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """systemd's own check, with ExecStart pointed at this environment's command (the
    unit names the path of a production install)."""
    chargeledger = Path(sys.executable).parent / "chargeledger"
    text = (ROOT / "deploy/systemd/chargeledger.service").read_text()
    text = text.replace("/opt/chargeledger/bin/chargeledger", str(chargeledger))
    text = re.sub(r"^(User|Group|EnvironmentFile)=.*$", "", text, flags=re.M)
    unit = tmp_path / "chargeledger.service"
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "chargeledger.service" in line
    ]
    assert not problems, "\n".join(problems)


# -- make serve, README --------------------------------------------------------


def test_make_serve_installs_the_package_without_test_or_bench_extras() -> None:
    result = subprocess.run(
        ["make", "-n", "-B", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    installs = [line for line in result.stdout.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs), result.stdout
    assert not any("[" in line for line in installs), installs


def test_the_readme_configuration_table_lists_every_option_of_serve() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration") : text.index("## The OCPP gateway")]
    listed = set(re.findall(r"^\| `(--[a-z-]+)`(?:, `(--[a-z-]+)`)?", section, re.M))
    documented = {flag for row in listed for flag in row if flag}
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {
        action.option_strings[0]
        for action in serve._actions
        if action.option_strings and action.help != argparse.SUPPRESS and action.dest != "help"
    }
    assert flags - documented == set(), "serve options missing from README's Configuration"


def test_the_readme_links_only_files_in_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    assert "../" not in text
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), target


def test_no_readme_example_carries_an_expiry_that_will_pass() -> None:
    text = (ROOT / "README.md").read_text()
    expiries = re.findall(r"expiry[_a-z]*\"?[:=]? \"?(\d{4})-\d\d-\d\d", text)
    expiries += re.findall(r"--expiry \"?(\d{4})-", text)
    assert all(int(year) >= 2099 for year in expiries), expiries
