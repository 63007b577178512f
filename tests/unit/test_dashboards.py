"""Dashboards read without Grafana: the queries the panels hold, with variables and legends filled in."""

from __future__ import annotations

import json

from infra.manifests.monitoring import dashboard_files
from mlops_kit.dashboards import legend, panel_queries, substitute


def test_every_panel_query_of_the_repos_dashboards_is_found():
    dashboard = json.loads(dashboard_files()["model-service.json"])
    titles = [title for title, _, _ in panel_queries(dashboard)]
    assert "Request rate" in titles and "p99 latency" in titles and "PSI per feature (1h)" in titles


def test_variables_become_the_namespace_service_and_a_fixed_rate_window():
    expr = 'rate(x{namespace="$namespace", service=~"$service"}[$__rate_interval])'
    assert substitute(expr, "mlops-dev", "bc") == 'rate(x{namespace="mlops-dev", service=~"bc"}[5m])'


def test_legends_are_filled_from_series_labels():
    assert legend("{{service}} {{track}}", {"service": "bc", "track": "stable"}) == "bc stable"
    assert legend("__auto", {"__name__": "up", "pod": "p1"}) == "pod=p1"
