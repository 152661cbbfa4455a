"""What a log line is about (node, station, client address, command, OCPP action and
unique id), held in context variables that a task sets once for everything it logs;
a task copies them from its creator.

Apart from ``adapters/logs.py`` (which formats and limits the lines) so that every
layer may say what it works on: the dispatcher names the command whose CALL the
gateway then writes, and the gateway's frame lines carry it (stdlib only, no I/O)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

CONTEXT_FIELDS = ("node", "station", "client", "command", "action", "unique_id")

_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"chargeledger_log_{name}", default=None)
    for name in CONTEXT_FIELDS
}


def bind(**fields: str | None) -> None:
    """Attach fields to every later line of the current task (and the tasks it starts)."""
    for name, value in fields.items():
        _context[name].set(value)


def current(name: str) -> str | None:
    return _context[name].get()


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Attach fields to the lines logged inside the block, then restore the old ones."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
