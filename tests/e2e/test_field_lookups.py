"""Issue 11 item 9, end to end: the lookups an integrator needs. Every list is a JSON
list, bounded by ``?limit=N``, its next page named by ``Link: <…>; rel="next"`` with an
opaque cursor; commands are listed newest first and filtered; a reservation reads by
its id; the station view carries the boot's identity and the last message's time;
the transaction view its reservation, charging profile and remote start."""

from __future__ import annotations

import re
from typing import Any

import httpx
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from tests.e2e.conftest import ServedNode, Station, connected_station, eventually

STAMP = "2026-03-01T10:00:00Z"
NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


async def walk(api: httpx.AsyncClient, path: str) -> tuple[list[Any], list[str]]:
    """Every item of a list, following its rel=next links; and the pages' addresses."""
    items: list[Any] = []
    pages: list[str] = []
    following: str | None = path
    while following is not None:
        assert len(pages) < 50, "the pages never end"
        response = await api.get(following)
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)
        pages.append(following)
        items += response.json()
        found = NEXT.search(response.headers.get("Link", ""))
        following = found.group(1) if found else None
    return items, pages


class ReservingStation(Station):
    """Reserves, and answers triggers, as a charger does."""

    @on(Action.reserve_now)
    async def on_reserve_now(self, **payload: Any) -> Any:
        return call_result.ReserveNow(status="Accepted")

    @on(Action.trigger_message)
    async def on_trigger(self, **payload: Any) -> Any:
        return call_result.TriggerMessage(status="Accepted")


async def ended(api: httpx.AsyncClient, key: str) -> dict[str, Any]:
    async def done() -> Any:
        view = (await api.get(f"/api/commands/{key}")).json()
        return view if view["status"] not in ("requested", "dispatched") else None

    result: dict[str, Any] = await eventually(done)
    return result


async def test_commands_are_listed_newest_first_filtered_and_paged(node: ServedNode) -> None:
    async with (
        connected_station(node, "CP-LIST", ReservingStation) as station,
        node.client() as api,
    ):
        await station.boot()
        messages = ["Heartbeat", "StatusNotification", "Heartbeat", "MeterValues", "Heartbeat"]
        for n, message in enumerate(messages):
            posted = await api.post(
                "/api/stations/CP-LIST/commands/trigger-message",
                json={"requested_message": message, "connector_id": n},
                headers={"Idempotency-Key": f"list-{n}"},
            )
            assert posted.status_code == 202, posted.text
            await ended(api, f"list-{n}")
        await api.post(
            "/api/stations/CP-LIST/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": "list-cache"},
        )  # the station has no handler: it answers NotImplemented
        await ended(api, "list-cache")

        listed, pages = await walk(api, "/api/commands?station=CP-LIST&limit=2")
        keys = [c["command_id"] for c in listed]
        assert keys == ["list-cache", "list-4", "list-3", "list-2", "list-1", "list-0"]
        assert len(pages) == 3
        assert all("CP-LIST" not in page.split("cursor=")[-1] for page in pages[1:])
        first = await api.get("/api/commands", params={"station": "CP-LIST", "limit": 2})
        assert len(first.json()) == 2
        assert 'rel="next"' in first.headers["Link"]

        triggers, _ = await walk(
            api, "/api/commands?station=CP-LIST&name=trigger-message&status=accepted&limit=2"
        )
        assert [c["command_id"] for c in triggers] == keys[1:]
        failed, _ = await walk(api, "/api/commands?station=CP-LIST&status=failed")
        assert [c["command_id"] for c in failed] == ["list-cache"]
        assert failed[0]["error_code"] == "NotImplemented"
        assert failed[0]["ended_at"] is not None
        assert (await api.get("/api/commands?station=ELSEWHERE")).json() == []
        bad = await api.get("/api/commands", params={"status": "done"})
        assert bad.status_code == 422


async def test_every_list_pages_with_a_link_to_the_next(node: ServedNode) -> None:
    async with node.client() as api:
        for n in range(5):
            assert (await api.put(f"/api/id-tags/PAGE-{n}", json={})).status_code == 200
            registered = await api.post("/api/registry/stations", json={"id": f"REG-{n}"})
            assert registered.status_code == 201, registered.text
            profile = {
                "stack_level": n,
                "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Absolute",
                "charging_schedule": {
                    "charging_rate_unit": "A",
                    "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
                },
            }
            assert (await api.put(f"/api/charging-profiles/{n + 1}", json=profile)).is_success

        tags, pages = await walk(api, "/api/id-tags?limit=2")
        assert [t["id_tag"] for t in tags] == [f"PAGE-{n}" for n in range(5)]
        assert len(pages) == 3
        registry, pages = await walk(api, "/api/registry/stations?limit=3")
        assert [s["id"] for s in registry] == [f"REG-{n}" for n in range(5)]
        assert len(pages) == 2
        stations, _ = await walk(api, "/api/stations?limit=2")
        assert [s["id"] for s in stations] == [f"REG-{n}" for n in range(5)]
        profiles, pages = await walk(api, "/api/charging-profiles?limit=4")
        assert [p["charging_profile_id"] for p in profiles] == [1, 2, 3, 4, 5]
        assert len(pages) == 2
        everything = await api.get("/api/id-tags", params={"limit": 100_000})
        assert everything.status_code == 200  # a larger ask gets the largest page
        assert "Link" not in everything.headers
        nonsense = await api.get("/api/id-tags", params={"cursor": "%%%"})
        assert nonsense.status_code == 422


async def test_sessions_events_and_reservations_page_and_read_by_id(node: ServedNode) -> None:
    async with (
        connected_station(node, "CP-SESS", ReservingStation) as station,
        node.client() as api,
    ):
        await station.boot()
        for tag in ("TAG-A", "TAG-B"):
            assert (await api.put(f"/api/id-tags/{tag}", json={})).status_code == 200
        started = []
        for connector, tag in ((1, "TAG-A"), (2, "TAG-B"), (3, "TAG-A")):
            answer = await station.call(
                call.StartTransaction(
                    connector_id=connector, id_tag=tag, meter_start=0, timestamp=STAMP
                )
            )
            started.append(answer.transaction_id)
        await station.call(
            call.StopTransaction(meter_stop=10, timestamp=STAMP, transaction_id=started[0])
        )

        async def all_three() -> Any:
            found = (await api.get("/api/transactions?station=CP-SESS")).json()
            return found if len(found) == 3 and found[0]["status"] == "stopped" else None

        await eventually(all_three)
        sessions, pages = await walk(api, "/api/transactions?station=CP-SESS&limit=2")
        assert [s["transaction_id"] for s in sessions] == started
        assert len(pages) == 2
        of_a, _ = await walk(api, "/api/transactions?id_tag=TAG-A&status=open")
        assert [s["transaction_id"] for s in of_a] == [started[2]]
        view = (await api.get(f"/api/transactions/{started[1]}")).json()
        for name in ("reservation_id", "charging_profile_id", "remote_start_command_id"):
            assert name in view and view[name] is None
        assert view["anomalies"] == []
        assert view["status"] == "open"

        history, pages = await walk(api, "/api/stations/CP-SESS/events?limit=2")
        assert history == (await api.get("/api/stations/CP-SESS/events")).json()
        assert [e["version"] for e in history] == list(range(1, len(history) + 1))
        assert len(pages) == (len(history) + 1) // 2

        reserved = await api.post(
            "/api/stations/CP-SESS/commands/reserve-now",
            json={"connector_id": 0, "expiry_date": "2099-01-01T00:00:00Z", "id_tag": "TAG-B"},
            headers={"Idempotency-Key": "reserve-1"},
        )
        assert reserved.status_code == 202, reserved.text
        await ended(api, "reserve-1")
        (listed,) = (await api.get("/api/reservations?station=CP-SESS")).json()
        one = await api.get(f"/api/reservations/{listed['reservation_id']}")
        assert one.status_code == 200
        assert one.json()["command_id"] == "reserve-1"
        missing = await api.get("/api/reservations/987654")
        assert missing.status_code == 404
        assert missing.json()["error"] == "ReservationNotFound"


async def test_the_station_view_carries_identity_protocol_and_last_message(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-ID") as station, node.client() as api:
        await station.call(
            call.BootNotification(
                charge_point_vendor="Acme",
                charge_point_model="Volt-22",
                charge_point_serial_number="SN-0042",
                firmware_version="4.2.1",
            )
        )

        async def identified() -> Any:
            view = (await api.get("/api/stations/CP-ID")).json()
            return view if view["vendor"] else None

        booted = await eventually(identified)
        assert (booted["vendor"], booted["model"]) == ("Acme", "Volt-22")
        assert (booted["serial"], booted["firmware"]) == ("SN-0042", "4.2.1")
        assert booted["last_boot"] is not None
        assert booted["protocol"] == "ocpp1.6"
        assert booted["last_message_at"] is not None
        await station.call(call.StatusNotification(1, "NoError", "Available"))
        later = (await api.get("/api/stations/CP-ID")).json()
        assert later["last_message_at"] > booted["last_message_at"]
        assert later["last_heartbeat"] is None  # only a Heartbeat moves that one
        (listed,) = [s for s in (await api.get("/api/stations")).json() if s["id"] == "CP-ID"]
        assert listed["serial"] == "SN-0042"


async def test_an_idempotency_key_of_200_characters_is_taken_whatever_its_bytes(
    node: ServedNode,
) -> None:
    async with connected_station(node, "CP-KEYLEN") as station, node.client() as api:
        await station.boot()
        key = "é" * 200  # 400 bytes in UTF-8
        posted = await api.post(
            "/api/stations/CP-KEYLEN/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": key.encode()},
        )
        assert posted.status_code == 202, posted.text
        assert posted.json()["command_id"] == key
        too_long = await api.post(
            "/api/stations/CP-KEYLEN/commands/clear-cache",
            json={},
            headers={"Idempotency-Key": ("é" * 201).encode()},
        )
        assert too_long.status_code == 422
        assert "200 characters" in too_long.json()["detail"]
