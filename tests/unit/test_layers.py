"""The layers of docs/architecture.md, checked on the source: dependencies point inward
only (entrypoints -> adapters -> application -> domain), and the inner layers use no
I/O library. A module that breaks the rule is named with the import that breaks it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "chargeledger"

IO_LIBRARIES = {
    "asyncpg",
    "fastapi",
    "httpx",
    "ocpp",
    "prometheus_client",
    "psycopg",
    "psycopg_pool",
    "socket",
    "sqlite3",
    "starlette",
    "uvicorn",
    "websockets",
}
LAYERS = {
    "domain": {"chargeledger.application", "chargeledger.adapters", "chargeledger.entrypoints"},
    "application": {"chargeledger.adapters", "chargeledger.entrypoints"},
    "adapters": {"chargeledger.entrypoints"},
}
"""Per layer, the packages its modules may not import."""


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _breaks(layer: str) -> list[str]:
    forbidden = LAYERS[layer] | {"chargeledger.bootstrap"}
    inner = layer in ("domain", "application")
    broken = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module in _imports(path):
            outward = any(module == f or module.startswith(f + ".") for f in forbidden)
            io = inner and module.split(".")[0] in IO_LIBRARIES
            if outward or io:
                broken.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    return broken


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_imports_only_inward(layer: str) -> None:
    assert _breaks(layer) == []
