"""Password checks: slow once per station, and a wrong guess buys no slow hash for a while."""

from __future__ import annotations

import asyncio

from chargeledger.adapters.ocpp.gateway import _VerifiedPasswords
from chargeledger.application.registry import hash_password


async def test_a_wrong_password_closes_that_station_id_to_slow_checks_for_a_cooldown() -> None:
    stored = hash_password("right")
    checks = _VerifiedPasswords(cooldown_s=0.2)
    assert not await checks.check("CP-1", "wrong", stored)
    assert not await checks.check("CP-1", "right", stored)  # within the cooldown
    assert await checks.check("CP-2", "x", hash_password("x"))  # other stations unaffected
    await asyncio.sleep(0.25)
    assert await checks.check("CP-1", "right", stored)
    assert not await checks.check("CP-1", "wrong", stored)  # known now: fast compare
    assert await checks.check("CP-1", "right", stored)
