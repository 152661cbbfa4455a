"""Fail points are armed only on purpose and parse strictly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chargeledger.application import faults


def test_an_unarmed_point_does_nothing() -> None:
    faults.arm(None)
    faults.crash_point("after-dispatched")


@pytest.mark.parametrize("spec", ["after-dispatched", "after-dispatched:0", ":3", "x:y"])
def test_a_malformed_spec_is_refused_with_the_expected_form(spec: str) -> None:
    with pytest.raises(ValueError, match="POINT:N"):
        faults.arm(spec)


def test_an_armed_point_kills_the_process_the_nth_time_it_is_reached() -> None:
    script = (
        "from chargeledger.application import faults\n"
        "faults.arm('p:3')\n"
        "for n in range(1, 6):\n"
        "    print(n, flush=True)\n"
        "    faults.crash_point('p')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == -9
    assert done.stdout.split() == ["1", "2", "3"]
