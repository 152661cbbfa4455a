"""The gateway's log lines and metrics for connections and frames, kept out of the hot
path's code: each call site in the gateway is one line."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Protocol

from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from chargeledger.adapters import logs
from chargeledger.adapters.metrics import NodeMetrics
from chargeledger.adapters.ocpp import framing, schemas
from chargeledger.adapters.ocpp.options import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)

PROTOCOL = "ocpp1.6"

_OUR_CLOSE_REASONS = {
    "superseded by a newer connection": "superseded",
    "superseded by a newer connection elsewhere": "superseded",
    "the CSMS is shutting down": "shutdown",
    "keepalive ping timeout": "ping_timeout",
}


def peer(transport: asyncio.BaseTransport) -> str:
    address = transport.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) if address else "?"


def action_label(action: str) -> str:
    """The action as a metric label: a name a station made up becomes ``unknown``, so a
    hostile client cannot grow the label set without bound."""
    if (
        action in schemas.STATION_ACTIONS
        or action in schemas.STATION_ACTIONS_201
        or schemas.known_action(action)
        or schemas.known_action(action, schemas.OCPP201)
    ):
        return action
    return "unknown"


def opened(
    metrics: NodeMetrics,
    station_id: str,
    client: str,
    request: Request,
    tls: bool,
    protocol: str = PROTOCOL,
) -> None:
    metrics.connections_opened.labels(protocol).inc()
    auth = (
        "basic" if request.headers.get("Authorization", "").lower().startswith("basic ") else "none"
    )
    log.info(
        "station connected (protocol %s, %s, auth %s)",
        protocol,
        "wss" if tls else "ws",
        auth,
        extra={"station": station_id, "client": client},
    )


def refused(metrics: NodeMetrics, client: str, request: Request, response: Response) -> None:
    metrics.connections_closed.labels("refused").inc()
    why = response.body.decode(errors="replace").strip()[:200] if response.body else ""
    log.info(
        "connection to %s refused: %d %s",
        request.path[:100],
        response.status_code,
        why or response.reason_phrase,
        extra={"client": client},
    )


class Connection(Protocol):
    client: str
    ws: ServerProtocol
    connected_at: float


def ended(metrics: NodeMetrics, station_id: str | None, connection: Connection) -> None:
    if not station_id:
        return  # a refused handshake was counted and logged as such
    client, ws = connection.client, connection.ws
    connected_at = connection.connected_at
    reason = _reason(ws)
    metrics.connections_closed.labels(reason).inc()
    detail = ""
    if ws.close_rcvd is not None:
        detail = f"; the station sent {ws.close_rcvd.code} {ws.close_rcvd.reason[:100]!r}"
    elif ws.close_sent is not None:
        detail = f"; we sent {ws.close_sent.code} {ws.close_sent.reason!r}"
    log.info(
        "station disconnected (%s) after %.1f s%s",
        reason,
        time.monotonic() - connected_at,
        detail,
        extra={"station": station_id, "client": client},
    )


def _reason(ws: ServerProtocol) -> str:
    sent, received = ws.close_sent, ws.close_rcvd
    if sent is not None and (received is None or ws.close_rcvd_then_sent is False):
        if sent.code == CloseCode.MESSAGE_TOO_BIG:
            return "frame_too_big"
        return _OUR_CLOSE_REASONS.get(sent.reason, "closed_by_csms")
    if received is not None:
        return "closed_by_station"
    return "connection_lost"


def frame(
    direction: str,
    station_id: str,
    client: str,
    data: bytes | str,
    awaited: tuple[str, str | None] | None = None,
) -> None:
    """Every OCPP frame, whole, at DEBUG (bounded by --max-frame-bytes). ``awaited``: the
    unique id of our CALL waiting for its answer and its command, which an answer with
    that id is about too (a CALL we send is logged in its command's context)."""
    if log.isEnabledFor(logging.DEBUG):
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        if any(action in text for action in SECRETS):
            text = redacted(text)
        context: dict[str, object] = {"station": station_id, "client": client}
        context.update(_ids(text, awaited), limit_burst=logs.FRAME_BURST)
        log.debug("%s %s", direction, text, extra=context)


SECRETS = {"SetNetworkProfile": frozenset({"password", "key", "apnPassword", "simPin"})}
"""By action: the fields of a CALL's payload that hold a secret, never logged (the log
holds them no more than the event log does: ``application/command_secrets.py``)."""


def redacted(text: str) -> str:
    """A frame with the secrets of its CALL replaced by ``(redacted)``."""
    try:
        frame = json.loads(text)
    except ValueError:
        return text
    if isinstance(frame, list) and len(frame) == 4 and frame[0] == framing.CALL:
        hidden = SECRETS.get(str(frame[2]))
        if hidden:
            frame[3] = _hide(frame[3], hidden)
            return json.dumps(frame, separators=(",", ":"))
    return text


def _hide(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: "(redacted)" if k in hidden else _hide(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(item, hidden) for item in value]
    return value


def _ids(text: str, awaited: tuple[str, str | None] | None) -> dict[str, str]:
    """The frame's unique id, (for a CALL) action and (for an answer to one of ours) the
    command it was for, for the log line's context."""
    try:
        frame = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(frame, list) or len(frame) < 3:
        return {}
    ids = {"unique_id": str(frame[1])[:64]}
    if frame[0] == framing.CALL:
        ids["action"] = action_label(str(frame[2]))
    elif awaited is not None and awaited[1] and frame[1] == awaited[0]:
        ids["command"] = awaited[1]
    return ids


def bind(station_id: str, client: str) -> None:
    """Later lines from this connection's callbacks, and the tasks they start, name it.
    (Each transport's read callback runs in a context of its own, so this holds per
    connection; after the first frame it costs one lookup.)"""
    if logs.current("station") is not station_id:
        logs.bind(station=station_id, client=client)


def answered(
    metrics: NodeMetrics,
    action: str | None,
    answer: framing.CallResult | framing.CallErrorFrame,
    sent_at: float,
) -> None:
    outcome = "result" if isinstance(answer, framing.CallResult) else "error"
    metrics.call_answered(action or "unknown", outcome, time.monotonic() - sent_at)


def station_call(metrics: NodeMetrics, action: str, outcome: str) -> None:
    metrics.station_call(action, outcome, action_label)
