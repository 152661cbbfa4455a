"""``chargeledger send STATION NAME [--body JSON]``: any station command, through the
HTTP API (``--api``, ``--api-token``; ``CHARGELEDGER_API``, ``CHARGELEDGER_API_TOKEN``),
so it takes the same reliable path as every other operator command."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from chargeledger.domain.enums import ENDED_STATUSES, CommandStatus
from chargeledger.domain.operations import OPERATIONS
from chargeledger.entrypoints.cli_options import (
    Parser,
    UserError,
    checked_url,
    option,
    subcommand,
)

NAMES = tuple(OPERATIONS)


def add_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    send = subcommand(
        sub,
        "send",
        "send a station command through the HTTP API",
        description="Send a station command through the HTTP API.\n\nExit status: 0 when "
        "the node took the command (and with --wait, when the station accepted it), 1 when "
        "it ended otherwise, 2 when the node refused it.",
    )
    send.add_argument("station", help="the station id")
    send.add_argument("name", choices=NAMES, metavar="NAME", help=", ".join(NAMES))
    option(send, "--body", "{}", "the JSON body (snake_case), or @FILE to read it from")
    option(send, "--api", "http://127.0.0.1:8000", "the node's HTTP API")
    option(send, "--api-token", "", "bearer token of the HTTP API")
    option(send, "--idempotency-key", None, "the command's key", shown_default="a new UUID")
    option(
        send,
        "--wait",
        None,
        "wait up to SECONDS (60 without a value) for the outcome and print the final view",
        type=float,
        nargs="?",
        const=60.0,
        metavar="SECONDS",
        shown_default="do not wait",
    )


def _request(
    args: argparse.Namespace, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {args.api_token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        args.api.rstrip("/") + path, data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as refused:
        text = refused.read().decode(errors="replace")
        try:
            return refused.code, json.loads(text)
        except ValueError:
            return refused.code, {"error": refused.reason, "detail": text.strip()}


def _body(text: str) -> Any:
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as unreadable:
            raise UserError(
                f"send: --body @{path}: cannot read it ({unreadable.strerror or unreadable})"
            ) from None
    try:
        return json.loads(text)
    except ValueError as bad:
        raise UserError(
            f'send: --body is not JSON ({bad}); e.g. --body \'{{"type": "Soft"}}\''
        ) from None


def send(args: argparse.Namespace) -> int:
    checked_url("--api", args.api, ("http", "https"), "http://127.0.0.1:8000")
    body = _body(args.body)
    key = args.idempotency_key or str(uuid.uuid4())
    try:
        status, view = _request(
            args, "POST", f"/api/stations/{args.station}/commands/{args.name}", body, key
        )
        if status != 202:
            error = view.get("error", status) if isinstance(view, dict) else status
            detail = view.get("detail", "") if isinstance(view, dict) else view
            print(f"send: {status} {error}: {detail}", file=sys.stderr)
            return 2
        if args.wait is not None:
            view = _wait(args, view["command_id"], args.wait) or view
    except OSError as unreachable:  # URLError, a timeout, a connection reset
        reason = getattr(unreachable, "reason", None) or unreachable
        print(f"send: cannot reach {args.api} ({reason}); is the node up?", file=sys.stderr)
        return 2
    except ValueError:
        print(
            f"send: {args.api} did not answer JSON; is it a chargeledger node's HTTP API?",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(view, indent=2))
    if args.wait is None:
        return 0
    return 0 if view.get("status") == CommandStatus.ACCEPTED else 1


def _wait(args: argparse.Namespace, command_id: str, timeout: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    view: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        status, view = _request(args, "GET", f"/api/commands/{command_id}")
        if status == 200 and view and view.get("status") in ENDED_STATUSES:
            return view
        time.sleep(0.2)
    return view
