"""The repo's Grafana dashboards read without Grafana: every panel's queries evaluated now against Prometheus.

Grafana is AGPL and not built here, so on the kit's local cluster the dashboards (infra/monitoring/dashboards/*.json,
the same files Grafana provisions elsewhere) are read through this: the panel titles in order, each query's series
with its legend filled from the series labels, and the current value. Template variables are the namespace and a
service regex; `$__rate_interval` becomes a fixed window.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from infra.manifests.monitoring import dashboard_files
from mlops_kit.errors import EnvironmentProblem, UserError

RATE_INTERVAL = "5m"


@dataclass(frozen=True)
class Reading:
    dashboard: str
    panel: str
    legend: str
    value: str


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(panel title, PromQL, legend format) of every query of every panel, rows' children included, in order."""
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                if target.get("expr"):
                    yield inner.get("title", ""), target["expr"], target.get("legendFormat", "")


def substitute(expr: str, namespace: str, service: str) -> str:
    values = {"namespace": namespace, "service": service, "__rate_interval": RATE_INTERVAL}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), expr)


def legend(template: str, labels: dict[str, str]) -> str:
    if not template or template == "__auto":
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{prometheus.rstrip('/')}/api/v1/query", params={"query": expr}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise EnvironmentProblem(
            f"Prometheus at {prometheus} did not answer ({exc}); on the local cluster run "
            "`kubectl -n <namespace> port-forward svc/prometheus 9090` and pass --prometheus-url http://127.0.0.1:9090"
        ) from None
    return response.json().get("data", {}).get("result", [])


def read(prometheus: str, namespace: str, service: str = ".*", name: str | None = None) -> list[Reading]:
    files = dashboard_files()
    if name is not None and name not in files:
        raise UserError(f"--dashboard {name!r}: no such dashboard; the repo has {sorted(files)}")
    readings = []
    for file_name, text in files.items():
        if name is not None and file_name != name:
            continue
        dashboard = json.loads(text)
        for title, expr, template in panel_queries(dashboard):
            series = _query(prometheus, substitute(expr, namespace, service))
            if not series:
                readings.append(Reading(dashboard["title"], title, template or "-", "no data"))
            for sample in series:
                value = float(sample["value"][1])
                readings.append(Reading(dashboard["title"], title, legend(template, sample["metric"]), f"{value:.4g}"))
    return readings
