"""The monitoring rules and dashboards against promtool (the toolchain's Prometheus build, the version the image ships).

- every rule file passes `promtool check rules`; every unit-test file in infra/monitoring/tests passes `promtool test rules`
- the PSI record equals services.monitoring.drift.psi on the same numbers (generated distributions)
- every PromQL query of the dashboards parses

The rendered prometheus.yml and a real Prometheus scraping with it: test_prometheus_server.py.

`bash scripts/promtool.sh` builds the tools (scripts/test.sh builds the whole toolchain before this layer).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from infra.manifests.monitoring import RULES_DIR, dashboard_files
from mlops_kit.paths import REPO_ROOT as ROOT
from services.monitoring.drift import PSI_ALERT_THRESHOLD, psi
from tests.integration.prometheus_tools import run

pytestmark = pytest.mark.integration

PROMTOOL_TESTS = ROOT / "infra" / "monitoring" / "tests"
RECORDING_RULES = RULES_DIR / "model-service-recording.yaml"


@pytest.mark.parametrize("rule_file", sorted(RULES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_rule_file_passes_promtool_check(promtool, rule_file):
    result = run(promtool, "check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_severity_summary_and_description():
    for rule_file in sorted(RULES_DIR.glob("*.yaml")):
        for group in yaml.safe_load(rule_file.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    where = f"{rule_file.name}: {rule['alert']}"
                    assert rule["labels"]["severity"] in ("critical", "warning", "info"), where
                    assert rule["annotations"]["summary"] and rule["annotations"]["description"], where


def test_every_alert_is_unit_tested():
    alerts = {
        rule["alert"]
        for rule_file in RULES_DIR.glob("*.yaml")
        for group in yaml.safe_load(rule_file.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    fired, silent = set(), set()
    for test_file in PROMTOOL_TESTS.glob("*.yaml"):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alerts <= fired, f"alerts never shown to fire: {sorted(alerts - fired)}"
    assert alerts <= silent, f"alerts never shown to stay silent: {sorted(alerts - silent)}"


@pytest.mark.parametrize("test_file", sorted(PROMTOOL_TESTS.glob("*.yaml")), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(promtool, test_file):
    result = run(promtool, "test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr


# Per-minute live counts per bin against baseline fractions: baseline-shaped, shifted, with never-seen bins, random.
_rng = np.random.default_rng(20240611)
_random_baseline = _rng.dirichlet(np.ones(10))
PSI_CASES: dict[str, tuple[list[float], list[int]]] = {
    "uniform-as-baseline": ([0.1] * 10, [5] * 10),
    "skewed-as-baseline": (
        [0.25, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1],
        [25, 5, 10, 10, 10, 10, 10, 5, 5, 10],
    ),
    "collapsed-edges-as-baseline": ([0.5, 0.25, 0.25], [4, 2, 2]),
    "mild-shift": ([0.1] * 10, [2, 2, 2, 3, 3, 3, 3, 4, 4, 4]),
    "shift-right": ([0.1] * 10, [1, 1, 1, 2, 3, 3, 4, 5, 5, 5]),
    "empty-bins": ([0.1] * 10, [0, 0, 0, 2, 3, 3, 4, 5, 6, 7]),
    "one-bin": ([0.1] * 10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
    "baseline-with-empty-bin": ([0.0, 0.2, 0.3, 0.5], [1, 2, 3, 4]),
    "random": ([float(f) for f in _random_baseline], [int(c) for c in _rng.integers(0, 20, size=10)]),
}


def test_psi_cases_cover_both_sides_of_the_alert_threshold():
    values = {name: psi(fractions, counts) for name, (fractions, counts) in PSI_CASES.items()}
    assert values["uniform-as-baseline"] == pytest.approx(0, abs=1e-12)
    assert values["skewed-as-baseline"] == pytest.approx(0, abs=1e-12)
    assert 0 < values["mild-shift"] < PSI_ALERT_THRESHOLD < values["shift-right"] < values["empty-bins"]


def test_psi_record_matches_python_psi(promtool, tmp_path):
    labels = 'namespace="mlops",service="bc",track="canary",model="m",pod="bc-canary-1"'
    series, checks = [], []
    for feature, (fractions, counts) in PSI_CASES.items():
        for index, fraction in enumerate(fractions):
            series.append(
                {
                    "series": f'mlops_feature_baseline_fraction{{{labels},feature="{feature}",bin="{index}"}}',
                    "values": f"{fraction!r}x90",
                }
            )
        for index, count in enumerate(counts):
            if count:  # a bin that never saw a row has no counter at all
                series.append(
                    {
                        "series": f'mlops_feature_bin_total{{{labels},feature="{feature}",bin="{index}"}}',
                        "values": f"0+{count}x90",
                    }
                )
        expected = psi(fractions, counts)
        checks.append(
            {
                "expr": f'abs(mlops:feature_psi:1h{{feature="{feature}"}} - {expected!r}) < bool 1e-9',
                "eval_time": "75m",
                "exp_samples": [
                    {
                        "labels": f'{{namespace="mlops",service="bc",track="canary",model="m",feature="{feature}"}}',
                        "value": 1,
                    }
                ],
            }
        )
    maximum = max(psi(f, c) for f, c in PSI_CASES.values())
    checks.append(
        {
            "expr": f"abs(mlops:model_psi_max:1h - {maximum!r}) < bool 1e-9",
            "eval_time": "75m",
            "exp_samples": [{"labels": '{namespace="mlops",service="bc",track="canary",model="m"}', "value": 1}],
        }
    )
    test = {
        "rule_files": [str(RECORDING_RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": checks}],
    }
    path = tmp_path / "psi.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_parse(promtool, tmp_path):
    rules = []
    for name, text in dashboard_files().items():
        panels = json.loads(text)["panels"]
        for panel in panels:
            for target in panel.get("targets", []):
                expr = (
                    target["expr"]
                    .replace("$__rate_interval", "5m")
                    .replace("$namespace", "mlops")
                    .replace("$service", ".*")
                )
                rules.append(
                    {
                        "record": f"dashboard:{len(rules)}",
                        "expr": expr,
                        "labels": {"panel": f"{name}: {panel['title']}"},
                    }
                )
    assert rules
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
