"""Log lines: one per event, with their context, and never a flood."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time

from chargeledger.adapters import logs


def _logger(
    fmt: str, limiter: logs.RepeatLimiter | None = None
) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logs.TextFormatter())
    handler.addFilter(logs.ContextFilter())
    if limiter is not None:
        handler.addFilter(limiter)
    logger = logging.getLogger(f"test-logs-{fmt}-{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_a_repeated_line_is_limited_and_the_count_of_the_rest_is_told() -> None:
    limiter = logs.RepeatLimiter(burst=5, interval_s=0.2)
    logger, stream = _logger("text", limiter)
    for n in range(1000):
        logger.warning("bad frame from %s: %s", "CP-1", n, extra={"station": "CP-1"})
    assert len(stream.getvalue().splitlines()) == 5
    logger.warning("bad frame from %s: %s", "CP-2", 0, extra={"station": "CP-2"})
    assert len(stream.getvalue().splitlines()) == 6  # another station is not silenced
    time.sleep(0.25)
    logger.warning("bad frame from %s: %s", "CP-1", "late", extra={"station": "CP-1"})
    last = stream.getvalue().splitlines()[-1]
    assert "late" in last and "[995 more like this were suppressed]" in last


def test_a_huge_message_is_cut_and_stays_on_one_line() -> None:
    logger, stream = _logger("json")
    logger.info("frame %s", "x\n" * (logs.MAX_MESSAGE_CHARS))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    message = json.loads(lines[0])["message"]
    assert len(message) < logs.MAX_MESSAGE_CHARS + 100
    assert message.endswith("more characters]")


def test_an_exception_stays_on_one_text_line() -> None:
    logger, stream = _logger("text")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("handling failed")
    assert len(stream.getvalue().splitlines()) == 1
    assert "ValueError: boom" in stream.getvalue()


async def test_the_context_of_a_task_reaches_its_lines_and_those_of_its_children() -> None:
    logger, stream = _logger("json")

    async def child() -> None:
        logger.info("from the child", extra={"command": "c-1"})

    async def connection() -> None:
        logs.bind(station="CP-9", client="10.0.0.1:5000")
        logger.info("from the task")
        await asyncio.create_task(child())

    logs.bind(node="node-x")
    await asyncio.create_task(connection())
    logger.info("outside")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {**first, "node": "node-x", "station": "CP-9", "client": "10.0.0.1:5000"}
    assert second["command"] == "c-1" and second["station"] == "CP-9"
    assert "station" not in third and third["node"] == "node-x"


def test_a_client_opening_connection_after_connection_shares_one_budget() -> None:
    """Each new connection has a new port; a refused one logs a line: a client that
    reconnects in a loop must not get a fresh budget per port (it would fill the disk)."""
    limiter = logs.RepeatLimiter(burst=5, interval_s=60)
    logger, stream = _logger("text", limiter)
    for port in range(40000, 41000):
        logger.info(
            "connection to %s refused: %d", "/ocpp/X", 404, extra={"client": f"203.0.113.9:{port}"}
        )
    assert len(stream.getvalue().splitlines()) == 5
    logger.info("connection to %s refused: %d", "/ocpp/X", 404, extra={"client": "198.51.100.1:5"})
    logger.info("connection to %s refused: %d", "/ocpp/X", 404, extra={"client": "::1:40001"})
    assert len(stream.getvalue().splitlines()) == 7  # other addresses keep their own


def test_the_port_is_taken_off_an_address_of_either_family() -> None:
    assert logs.client_host("203.0.113.9:40000") == "203.0.113.9"
    assert logs.client_host("2001:db8::1:443") == "2001:db8::1"
    assert logs.client_host("?") == "?"
    assert logs.client_host(None) is None


def test_a_command_body_is_logged_as_json_and_a_huge_one_is_cut() -> None:
    from chargeledger.adapters.telemetry import MAX_PAYLOAD_CHARS, _shown
    from chargeledger.domain.enums import ResetType

    assert _shown({"type": ResetType.SOFT}) == '{"type": "Soft"}'
    entries = [{"id_tag": f"TAG-{n}", "status": "Accepted"} for n in range(5000)]
    shown = _shown({"update_type": "Full", "entries": entries})
    assert len(shown) < MAX_PAYLOAD_CHARS + 50 and shown.endswith("more characters]")


def test_every_frame_of_a_station_emptying_its_queue_is_logged_and_a_flood_is_not() -> None:
    """At DEBUG each OCPP frame is read for: a station sending its kept MeterValues after
    an outage (dozens at once) is logged whole; a flood is still limited."""
    from chargeledger.adapters.ocpp import connection_log

    gateway = logging.getLogger("chargeledger.gateway")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.addFilter(logs.RepeatLimiter())
    saved = gateway.level, gateway.propagate
    gateway.addHandler(handler)
    gateway.setLevel(logging.DEBUG)
    gateway.propagate = False
    try:
        for n in range(60):
            frame = f'[2,"m{n}","MeterValues",{{"connectorId":1,"meterValue":[]}}]'
            connection_log.frame("<-", "CP-Q", "10.0.0.7:4000", frame)
        assert len(stream.getvalue().splitlines()) == 60
        for n in range(60, 5000):
            connection_log.frame("<-", "CP-Q", "10.0.0.7:4000", f'[2,"m{n}","Heartbeat",{{}}]')
        assert len(stream.getvalue().splitlines()) == logs.FRAME_BURST
    finally:
        gateway.removeHandler(handler)
        gateway.setLevel(saved[0])
        gateway.propagate = saved[1]
