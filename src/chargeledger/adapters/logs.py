"""Structured logs: one event per line, as text or JSON, each carrying who it is about.

The context (station, client address, node, command, OCPP action and unique id) comes
from ``extra=`` when a call passes it, else from the context variables of
``chargeledger.log_context`` (``bind``, ``bound``, ``current``, re-exported here), which
a task sets once for everything it logs (a task copies them from its creator, so a
node's id set at start-up reaches every worker it starts). Repeats of one message are
limited per interval, so a hostile client cannot fill the disk with one line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from chargeledger.log_context import CONTEXT_FIELDS as CONTEXT_FIELDS  # re-exported
from chargeledger.log_context import bind as bind
from chargeledger.log_context import bound as bound
from chargeledger.log_context import current as current

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
FRAME_BURST = 200
"""OCPP frames of one station logged per 10 s at DEBUG (a real charger sends a few; a
station emptying its queue of transaction messages after an outage, a few dozen)."""
MAX_MESSAGE_CHARS = 128 * 1024
"""Past this a message is cut: a whole OCPP frame (at most --max-frame-bytes) fits."""


class ContextFilter(logging.Filter):
    """Gives every record each context field: from ``extra=``, else the task's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, current(name))
        return True


def client_host(client: object) -> str | None:
    """``HOST:PORT`` (``::1:5000`` for IPv6, as the gateway writes it) without the port."""
    if not isinstance(client, str):
        return None
    host, sep, port = client.rpartition(":")
    return host if sep and port.isdigit() else client


class RepeatLimiter(logging.Filter):
    """At most ``burst`` lines of one message template per ``interval_s`` (a record may
    carry its own ``limit_burst``: OCPP frames, which a reconnecting station sends by
    the dozen, every one of which a DEBUG log is read for); the first line
    after a quiet spell says how many were left out."""

    def __init__(self, burst: int = 20, interval_s: float = 10.0, max_keys: int = 10_000) -> None:
        super().__init__()
        self.burst = burst
        self.interval_s = interval_s
        self.max_keys = max_keys
        self._windows: dict[tuple[str, int, str], list[float | int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # Per station and client address: one station's flood must not hide another's
        # lines. The address without its port: a client that opens connection after
        # connection (each refused, say) gets a new port each time, not a new budget.
        # A line about one thing (a document, say) names it in ``limit_key``.
        key = (
            record.name,
            record.levelno,
            f"{record.msg}|{getattr(record, 'station', None)}"
            f"|{client_host(getattr(record, 'client', None))}"
            f"|{getattr(record, 'limit_key', None)}",
        )
        now = time.monotonic()
        window = self._windows.get(key)
        if window is None or now - float(window[0]) >= self.interval_s:
            suppressed = 0 if window is None else int(window[2])
            if len(self._windows) >= self.max_keys:
                self._windows.clear()  # bounded: only a flood of distinct templates gets here
            self._windows[key] = [now, 1, 0]
            if suppressed:
                record.msg = f"{record.msg} [{suppressed} more like this were suppressed]"
            return True
        window[1] = int(window[1]) + 1
        if int(window[1]) <= getattr(record, "limit_burst", self.burst):
            return True
        window[2] = int(window[2]) + 1
        return False


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if len(message) > MAX_MESSAGE_CHARS:
        cut = len(message) - MAX_MESSAGE_CHARS
        message = f"{message[:MAX_MESSAGE_CHARS]}... [{cut} more characters]"
    return message


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value...``, one line per event."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        context = " ".join(
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, None)) is not None
        )
        message = _message(record).replace("\n", "\\n")  # one event, one line
        line = f"{stamp} {record.levelname} {record.name}: {message}"
        if context:
            line = f"{line} [{context}]"
        if record.exc_info:
            trace = self.formatException(record.exc_info).replace("\n", "\\n")
            line = f"{line} | {trace}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and each context field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, fmt: str, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) at ``level``, as ``fmt``; replaces any
    handler an earlier call installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # websockets' and uvicorn's own access lines say less than ours; keep their warnings.
    for noisy in ("websockets", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
