"""The README's example of each station command is a body the API takes, and every
command name of CONTRACT.md has one."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chargeledger.entrypoints.api.commands import BODIES, CommandName

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| [A-Za-z ]+ \| `([a-z-]+)` \| (.*) \|$")


def examples() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in README.read_text().splitlines():
        match = ROW.match(line)
        if match:
            found[match.group(1)] = re.findall(r"`(\{.*?\})`", match.group(2))
    return found


def test_every_command_name_has_an_example() -> None:
    assert set(examples()) == {name.value for name in CommandName}


def test_each_example_body_is_taken_by_the_api() -> None:
    for name, bodies in examples().items():
        taken = [b for b in bodies if "…" not in b]
        assert taken, name
        for body in taken:
            BODIES[CommandName(name)].model_validate(json.loads(body))
