"""What every benchmark shares: a row of the table, printing it, timing helpers."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    workload: str
    unit: str
    ours: float
    baseline_name: str
    baseline: float
    higher_is_better: bool = True

    @property
    def ratio(self) -> float:
        """ours / baseline, turned so that a ratio above 1 is better for us."""
        if self.ours == 0 or self.baseline == 0:
            return 0.0
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def print_table(name: str, rows: Sequence[Row], as_json: bool) -> None:
    if as_json:
        body = {
            "benchmark": name,
            "rows": [
                {
                    "workload": r.workload,
                    "unit": r.unit,
                    "ours": round(r.ours, 3),
                    "baseline_name": r.baseline_name,
                    "baseline": round(r.baseline, 3),
                    "ratio": round(r.ratio, 3),
                }
                for r in rows
            ],
        }
        print(json.dumps(body))
        return
    headers = ("workload", "unit", "ours", "baseline", "baseline value", "ratio")
    table = [
        (
            r.workload,
            r.unit,
            f"{r.ours:,.1f}",
            r.baseline_name,
            f"{r.baseline:,.1f}",
            f"{r.ratio:.2f}x",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *table, strict=False)]
    print(f"# bench {name} on {machine()}")
    for line in (headers, tuple("-" * w for w in widths), *table):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.started
