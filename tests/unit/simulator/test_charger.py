"""A charger without a connection: a driver's tag is authorized locally, the session
runs, and what it would have sent waits in the outbox."""

from __future__ import annotations

import asyncio

from chargeledger.simulator.charger import Charger
from chargeledger.simulator.charger_parts import Behaviour
from chargeledger.simulator.power import Vehicle


def _charger(**config: str) -> Charger:
    car = Vehicle(battery_wh=1_000_000, max_power_w=400_000)  # fast, so a test sees Wh
    behaviour = Behaviour(connectors=2, meter_interval_s=0.01, power_w=400_000, vehicle=car)
    charger = Charger("C-1", behaviour)
    charger.configuration.update(config)
    return charger


async def test_offline_a_tag_the_cache_accepted_starts_a_session_that_queues_its_messages() -> None:
    charger = _charger()
    charger.remember("DRIVER", {"status": "Accepted"})
    charger.plug(1)
    assert await charger.present_tag(1, "DRIVER") == "Accepted"
    await asyncio.sleep(0.05)
    charger.unplug(1)
    actions = [m.action for m in charger.outbox._messages]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"
    assert set(actions[1:-1]) == {"MeterValues"} and len(actions) > 3
    stop = charger.outbox._messages[-1].payload
    assert stop["reason"] == "EVDisconnected"
    assert stop["meter_stop"] > charger.outbox._messages[0].payload["meter_start"]
    assert charger.connectors[1].status == "Available"
    charger.close()


async def test_offline_an_unknown_tag_is_refused_unless_the_station_allows_it() -> None:
    assert await _charger().present_tag(1, "STRANGER") == "Invalid"
    allowing = _charger(AllowOfflineTxForUnknownId="true")
    assert await allowing.present_tag(1, "STRANGER") == "Accepted"
    allowing.close()


async def test_the_local_list_comes_before_the_cache_and_an_expired_entry_is_expired() -> None:
    charger = _charger()
    charger.remember("A", {"status": "Accepted"})
    charger.profiles_state["local_list"]["A"] = {"status": "Blocked"}
    charger.profiles_state["local_list"]["B"] = {
        "status": "Accepted",
        "expiry_date": "2000-01-01T00:00:00Z",
    }
    assert await charger.authorize("A") == "Blocked"
    assert await charger.authorize("B") == "Expired"
    charger.configuration["LocalAuthorizeOffline"] = "false"
    charger.remember("C", {"status": "Accepted"})
    assert await charger.authorize("C") != "Accepted"


async def test_a_tag_before_the_car_starts_when_the_car_is_plugged() -> None:
    charger = _charger()
    charger.remember("DRIVER", {"status": "Accepted"})
    await charger.present_tag(2, "DRIVER")
    assert charger.connectors[2].transaction_ref is None
    charger.plug(2)
    assert charger.connectors[2].transaction_ref is not None
    assert await charger.present_tag(2, "DRIVER") == "Accepted"  # the same tag stops it
    assert charger.outbox._messages[-1].payload["reason"] == "Local"
    charger.close()


async def test_a_start_the_csms_refuses_stops_the_session_deauthorized() -> None:
    charger = _charger()
    charger.remember("DRIVER", {"status": "Accepted"})
    charger.plug(1)
    await charger.present_tag(1, "DRIVER")
    ref = charger.connectors[1].transaction_ref
    assert ref is not None
    charger.started(ref, 7, {"status": "Blocked"})
    assert charger.outbox._messages[-1].payload["reason"] == "DeAuthorized"
    assert charger.outbox.request(charger.outbox._messages[-1]).transaction_id == 7
    assert charger.local_verdict("DRIVER") == "Blocked"
    charger.close()


async def test_a_charging_profile_limits_the_power() -> None:
    charger = _charger()
    charger.profiles_state["profiles"][1] = (
        0,
        {
            "stack_level": 0,
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 2000.0}],
            },
        },
    )
    charger.remember("DRIVER", {"status": "Accepted"})
    charger.plug(1)
    await charger.present_tag(1, "DRIVER")
    await asyncio.sleep(0.05)
    assert charger.connectors[1].power_w == 2000.0
    charger.close()
