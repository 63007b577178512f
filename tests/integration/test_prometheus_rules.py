"""The monitoring rules and config against the real Prometheus tools (Debian's `prometheus` package, 2.42).

- every rule file passes `promtool check rules`; every unit-test file in infra/monitoring/tests passes `promtool test rules`
- the PSI record equals services.monitoring.drift.psi on the same numbers (generated distributions)
- the rendered prometheus.yml passes `promtool check config`, and a real Prometheus with it scrapes an annotated "pod"
  (a loopback metrics server), gives it the target labels the rules group by, and records the error ratio and p99
- every PromQL query of the dashboards parses

`bash scripts/promtool.sh` installs the tools (scripts/test.sh runs it before this layer).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from infra.config import parse_stack_config
from infra.manifests.monitoring import RULES_DIR, SCRAPE_JOB, dashboard_files, monitoring_manifests
from mlops_kit.paths import REPO_ROOT as ROOT
from mlops_kit.waiting import GaveUp, wait_until
from services.monitoring.drift import PSI_ALERT_THRESHOLD, psi

PROMTOOL_TESTS = ROOT / "infra" / "monitoring" / "tests"
RECORDING_RULES = RULES_DIR / "model-service-recording.yaml"
INSTALL_HINT = "run `bash scripts/promtool.sh` (installs Debian's prometheus package, which ships promtool)"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not on PATH: {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return _tool("promtool")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


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


def _rendered_prometheus_yml(scrape_interval: str = "15s") -> dict:
    cfg = parse_stack_config({"environment": "dev", "monitoring": {"scrapeInterval": scrape_interval}})
    (config_map,) = [m for m in monitoring_manifests(cfg, "pw") if m["metadata"]["name"] == "prometheus-config"]
    return yaml.safe_load(config_map["data"]["prometheus.yml"])


def _with_file_discovery(config: dict, targets_file: Path) -> dict:
    """Debian's Prometheus is built without Kubernetes discovery: feed the same meta labels through file discovery."""
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(targets_file)], "refresh_interval": "1s"}]
    config["rule_files"] = [str(RULES_DIR / "*.yaml")]
    return config


def test_rendered_prometheus_config_passes_promtool_check(promtool, tmp_path):
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(_with_file_discovery(_rendered_prometheus_yml(), targets)))
    result = run(promtool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout + result.stderr


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


class _ModelServerMetrics(BaseHTTPRequestHandler):
    """What a model server's /metrics says, growing on every scrape: 9 OK + 1 failed /predict, 1 row of class 1."""

    scrapes = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        if self.path != "/custom-metrics":
            self.send_error(404)
            return
        with self.lock:
            type(self).scrapes += 1
            n = type(self).scrapes
        common = 'endpoint="/predict",service_name="mlops-kit-model",service_version="not available"'
        buckets = {"0.1": 5 * n, "0.25": 8 * n, "0.5": 9 * n, "1.0": 10 * n, "+Inf": 10 * n}
        lines = [
            "# TYPE bentoml_service_request_total counter",
            f'bentoml_service_request_total{{{common},http_response_code="200"}} {9 * n}',
            f'bentoml_service_request_total{{{common},http_response_code="500"}} {n}',
            "# TYPE bentoml_service_request_duration_seconds histogram",
            *(
                f'bentoml_service_request_duration_seconds_bucket{{{common},http_response_code="200",le="{le}"}} {c}'
                for le, c in buckets.items()
            ),
            f'bentoml_service_request_duration_seconds_count{{{common},http_response_code="200"}} {10 * n}',
            f'bentoml_service_request_duration_seconds_sum{{{common},http_response_code="200"}} {2.0 * n}',
            "# TYPE mlops_model_info gauge",
            'mlops_model_info{model="breast-cancer",version="3",run_id="abc"} 1.0',
            "",
        ]
        body = "\n".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_prometheus_scrapes_annotated_pods_with_the_rule_labels(promtool, tmp_path):
    prometheus = _tool("prometheus")
    metrics = ThreadingHTTPServer(("127.0.0.1", 0), _ModelServerMetrics)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    pod = {
        "__meta_kubernetes_namespace": "mlops",
        "__meta_kubernetes_pod_name": "iris-canary-7d9f",
        "__meta_kubernetes_pod_ip": "127.0.0.1",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": str(metrics.server_address[1]),
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/custom-metrics",
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": "model-service",
        "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "iris",
        "__meta_kubernetes_pod_label_mlops_kit_io_track": "canary",
    }
    unannotated = {
        **pod,
        "__meta_kubernetes_pod_name": "mlflow-0",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "false",
    }
    targets = tmp_path / "targets.json"
    # Kubernetes discovery gives the container port as the address; the annotation must win over it.
    targets.write_text(
        json.dumps([{"targets": ["127.0.0.1:1"], "labels": pod}, {"targets": ["127.0.0.1:2"], "labels": unannotated}])
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(_with_file_discovery(_rendered_prometheus_yml("1s"), targets)))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def query(expr: str) -> list[dict]:
            response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
            response.raise_for_status()
            return response.json()["data"]["result"]

        def recorded() -> tuple[list[dict], list[dict]] | None:
            error_ratio, p99 = query("mlops:request_error_ratio:rate5m"), query("mlops:request_latency_p99:rate5m")
            return (error_ratio, p99) if error_ratio and p99 else None

        try:
            error_ratio, p99 = wait_until(recorded, timeout=60, interval=1, alive=lambda: process.poll() is None)
        except GaveUp as gave_up:
            pytest.fail(f"prometheus: no recorded samples ({gave_up}):\n" + (tmp_path / "prometheus.log").read_text())

        rule_labels = {"namespace": "mlops", "service": "iris", "track": "canary"}
        assert error_ratio[0]["metric"] == {"__name__": "mlops:request_error_ratio:rate5m", **rule_labels}
        assert float(error_ratio[0]["value"][1]) == pytest.approx(0.1)
        assert p99[0]["metric"] == {"__name__": "mlops:request_latency_p99:rate5m", **rule_labels}
        assert float(p99[0]["value"][1]) == pytest.approx(0.5 + 0.5 * (0.99 * 10 - 9) / 1)

        (up,) = query("up")  # the unannotated pod is not a target at all
        assert up["metric"] == {
            "__name__": "up",
            "job": SCRAPE_JOB,
            "instance": f"127.0.0.1:{metrics.server_address[1]}",
            "namespace": "mlops",
            "pod": "iris-canary-7d9f",
            "service": "iris",
            "component": "model-service",
            "track": "canary",
        }
        assert up["value"][1] == "1"
        (info,) = query("mlops_model_info")
        assert info["metric"]["version"] == "3" and info["metric"]["service"] == "iris"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        metrics.shutdown()
        metrics.server_close()
