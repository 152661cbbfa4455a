"""The Grafana dashboard and the Prometheus alert rules in deploy/ name only metrics a
served node really exposes on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import ServedNode

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\b((?:chargeledger|process|python|go)_[a-z0-9_]+)\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "info": ("_info",),
    "summary": ("_sum", "_count", "_created"),
}


def _exposed(node: ServedNode) -> set[str]:
    text = httpx.get(f"{node.api_url}/metrics", timeout=10).text
    names = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    expressions = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            expressions.extend(t["expr"] for t in panel.get("targets", []))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    return expressions


def _alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def test_the_dashboard_uses_only_exposed_metrics(node: ServedNode) -> None:
    exposed = _exposed(node)
    expressions = _dashboard_expressions()
    assert len(expressions) >= 15
    used = {name for expr in expressions for name in METRIC.findall(expr)}
    assert used, "the dashboard names no metric"
    assert used <= exposed, f"not on /metrics: {sorted(used - exposed)}"


def test_the_alerts_cover_what_an_operator_needs_and_use_exposed_metrics(
    node: ServedNode,
) -> None:
    exposed = _exposed(node)
    alerts = _alert_expressions()
    wanted = {
        "offline": "chargeledger_connections_closed_total",
        "failing": "chargeledger_commands_total",
        "in doubt": "chargeledger_commands_in_doubt",
        "projection lag": "chargeledger_projection_lag_seconds",
        "store errors": "chargeledger_store_errors_total",
    }
    everything = " ".join(alerts.values())
    for concern, metric in wanted.items():
        assert metric in everything, f"no alert on {concern} ({metric})"
    for name, expr in alerts.items():
        used = set(METRIC.findall(expr))
        assert used and used <= exposed, f"{name}: not on /metrics: {sorted(used - exposed)}"
