"""The API's front door (issue 10, items 3 and 9, and the last resort): what it
refuses before the application reads a byte, and what it makes of an application
that fails. Driven through the ASGI interface itself, as a server drives it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chargeledger.entrypoints.http_guard import HttpGuard, Message, Receive, Scope, Send

TOKEN = "t0ken"
LIMIT = 64 * 1024


class Client:
    """Plays the server's side: hands the body over in chunks, collects the answer."""

    def __init__(self, chunks: list[bytes] | None = None, endless: bytes | None = None) -> None:
        self.chunks = list(chunks or [])
        self.endless = endless
        self.reads = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        self.reads += 1
        if self.endless is not None:
            return {"type": "http.request", "body": self.endless, "more_body": True}
        if self.chunks:
            body = self.chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(self.chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    def header(self, name: bytes) -> bytes | None:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return dict(start["headers"]).get(name)

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def scope(
    path: str = "/api/stations",
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    method: str = "POST",
) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query,
        "headers": headers if headers is not None else [(b"authorization", b"Bearer t0ken")],
    }


async def reads_the_whole_body(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RuntimeError("the client went away")  # as Starlette's ClientDisconnect
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def guard(app: Any = reads_the_whole_body) -> HttpGuard:
    return HttpGuard(app, token=TOKEN, max_body_bytes=LIMIT)


async def test_a_request_without_the_token_is_refused_before_its_body_is_read() -> None:
    for headers in (
        [(b"content-length", b"104857600")],
        [(b"authorization", b"Bearer wrong"), (b"transfer-encoding", b"chunked")],
        [
            (b"authorization", b"Bearer t0ken"),
            (b"authorization", b"Bearer t0ken"),  # two could disagree: neither counts
            (b"content-length", b"10"),
        ],
    ):
        client = Client(endless=b"x" * 65536)
        await guard()(scope(headers=headers), client.receive, client.send)
        assert client.reads == 0
        assert client.status == 401
        assert client.json()["error"] == "Unauthorized"
        assert client.header(b"connection") == b"close"  # not left to drain 100 MB


async def test_a_body_declared_above_the_limit_is_refused_unread() -> None:
    client = Client(endless=b"x" * 65536)
    headers = [(b"authorization", b"Bearer t0ken"), (b"content-length", str(LIMIT + 1).encode())]
    await guard()(scope(headers=headers), client.receive, client.send)
    assert client.reads == 0
    assert client.status == 413
    assert client.json() == {
        "error": "PayloadTooLarge",
        "detail": "the body is larger than 65536 bytes (the node's --max-body-bytes); send less",
    }


async def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    client = Client(endless=b"x" * 10_000)
    headers = [(b"authorization", b"Bearer t0ken"), (b"transfer-encoding", b"chunked")]
    await guard()(scope(headers=headers), client.receive, client.send)
    assert client.reads == LIMIT // 10_000 + 1  # one chunk past the limit, no more
    assert client.status == 413
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]


async def test_a_body_within_the_limit_reaches_the_app() -> None:
    client = Client(chunks=[b"x" * 30_000, b"y" * 30_000])
    await guard()(scope(), client.receive, client.send)
    assert client.status == 200


async def test_paths_outside_the_api_and_the_event_stream_query_token_pass() -> None:
    open_paths = Client()
    await guard()(scope("/healthz", headers=[], method="GET"), open_paths.receive, open_paths.send)
    assert open_paths.status == 200
    stream = Client()
    await guard()(
        scope("/api/events/stream", headers=[], query=b"token=t0ken", method="GET"),
        stream.receive,
        stream.send,
    )
    assert stream.status == 200
    elsewhere = Client()
    await guard()(scope(headers=[], query=b"token=t0ken"), elsewhere.receive, elsewhere.send)
    assert elsewhere.status == 401


@pytest.mark.parametrize(
    "query",
    [
        b"limit=-1",
        b"limit=99999999999999999999",
        b"min_position=9223372036854775808",
        b"from_version=1e3",
        b"after=%EF%BC%91",  # a full-width digit one
        b"min_position=",
    ],
)
async def test_an_integer_query_parameter_out_of_range_is_422(query: bytes) -> None:
    client = Client()
    await guard()(scope(query=query, method="GET"), client.receive, client.send)
    assert client.status == 422
    assert client.json()["error"] == "ValidationError"
    assert client.json()["detail"].startswith("query.")


async def test_an_integer_query_parameter_in_range_passes() -> None:
    client = Client()
    query = b"limit=0&min_position=9223372036854775807&from_version=1&after=12"
    await guard()(scope(query=query, method="GET"), client.receive, client.send)
    assert client.status == 200


async def test_an_exception_escaping_the_app_is_one_json_500_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails(scope: Scope, receive: Receive, send: Send) -> None:
        raise ZeroDivisionError("a bug")

    client = Client()
    with caplog.at_level(logging.ERROR):
        await guard(fails)(scope(), client.receive, client.send)
    assert client.status == 500
    assert client.json()["error"] == "InternalError"
    assert "a bug" not in json.dumps(client.json())  # no internals to the client
    assert len([r for r in caplog.records if r.exc_info]) == 1


async def test_a_response_that_fails_midway_is_ended_not_dropped() -> None:
    async def streams_then_fails(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    client = Client()
    await guard(streams_then_fails)(scope(method="GET"), client.receive, client.send)
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_an_answered_failure_is_not_answered_twice() -> None:
    async def answers_then_raises(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        raise RuntimeError("re-raised by Starlette after its handler answered")

    client = Client()
    await guard(answers_then_raises)(scope(), client.receive, client.send)
    assert len(client.sent) == 2


# -- text no store keeps (U+0000, lone surrogates, bytes that are not UTF-8) -------
# On PostgreSQL each of these was a 500 (InternalError, a traceback in the log): text
# and JSONB hold no U+0000, and a lone surrogate cannot be encoded at all.


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/api/local-lists/L\x00", b"/api/local-lists/L%00"),
        ("/api/commands/\x00", b"/api/commands/%00"),
        ("/api/id-tags/T\ufffd\ufffd\ufffd", b"/api/id-tags/T%ED%A0%80"),  # a surrogate
        ("/api/id-tags/caf\ufffd", b"/api/id-tags/caf%E9"),  # Latin-1, not UTF-8
    ],
)
async def test_a_path_that_is_not_text_a_store_keeps_is_422_unread(
    path: str, raw_path: bytes
) -> None:
    client = Client(endless=b"x" * 100)
    request = scope(path, method="PUT", headers=[(b"authorization", b"Bearer t0ken")])
    await guard()({**request, "raw_path": raw_path}, client.receive, client.send)
    assert client.reads == 0
    assert client.status == 422
    assert client.json()["error"] == "ValidationError"
    assert client.json()["detail"].startswith("path: ")


async def test_a_query_value_holding_nul_is_422() -> None:
    for query in (b"station=%00", b"cursor=AA%00", b"st%00ation=1"):
        client = Client()
        await guard()(scope(query=query, method="GET"), client.receive, client.send)
        assert client.status == 422, query
        assert client.json()["detail"].startswith("query."), query


@pytest.mark.parametrize(
    ("chunks", "where"),
    [
        ([rb'{"vendor_id":"v","data":"a\u0000"}'], "body.data"),
        ([rb'{"vendor_id":"v","data":"a\u00', rb'00"}'], "body.data"),  # across chunks
        ([rb'{"vendor_id":"v","data":"\ud800"}'], "body.data"),
        ([rb'{"entries":[{"id_tag":"T","x":["\udfff"]}]}'], "body.entries[0].x[0]"),
        ([rb'{"k\u0000":1}'], "body"),
    ],
)
async def test_a_json_body_with_nul_or_a_lone_surrogate_is_422_before_the_app_takes_it(
    chunks: list[bytes], where: str
) -> None:
    client = Client(chunks=chunks)
    await guard()(scope(), client.receive, client.send)
    assert client.status == 422
    problem = client.json()
    assert problem["error"] == "ValidationError"
    assert problem["detail"].startswith(where), problem
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]


@pytest.mark.parametrize(
    "body",
    [
        rb'{"data":"\\u0000 is six characters here"}',  # an escaped backslash, then u0000
        rb'{"data":"\ud83d\ude00 a pair is one character"}',
        rb'{"data":"\\\ud83d\ude00"}',
        rb'{"data":"not JSON at all \u0000',  # the app names what is wrong with it
    ],
)
async def test_real_text_written_with_escapes_reaches_the_app(body: bytes) -> None:
    client = Client(chunks=[body])
    await guard()(scope(), client.receive, client.send)
    assert client.status == 200
