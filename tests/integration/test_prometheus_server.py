"""The rendered prometheus.yml against the real Prometheus (the toolchain's build, the version the image ships): it
passes `promtool check config` as rendered (Kubernetes pod discovery and the repo's rule files), and a real Prometheus with it scrapes an annotated "pod" (a loopback metrics server), gives it
the target labels the rules group by, and records the error ratio and p99.

`bash scripts/promtool.sh` builds the tools (scripts/test.sh builds the whole toolchain before this layer).
"""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from infra.config import parse_stack_config
from infra.manifests.monitoring import RULES_DIR, SCRAPE_JOB, monitoring_manifests
from mlops_kit.analysis import PrometheusAnalysis
from mlops_kit.local import free_port
from mlops_kit.waiting import GaveUp, wait_until
from tests.integration.prometheus_tools import run, tool

pytestmark = pytest.mark.integration


def _rendered_prometheus_yml(scrape_interval: str = "15s") -> dict:
    cfg = parse_stack_config({"environment": "dev", "monitoring": {"scrapeInterval": scrape_interval}})
    (config_map,) = [m for m in monitoring_manifests(cfg, "pw") if m["metadata"]["name"] == "prometheus-config"]
    return yaml.safe_load(config_map["data"]["prometheus.yml"])


def _with_file_discovery(config: dict, targets_file: Path) -> dict:
    """No Kubernetes API in this layer: feed the meta labels pod discovery would give through file discovery (the e2e
    layer scrapes real pods through Kubernetes discovery)."""
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"
    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(targets_file)], "refresh_interval": "1s"}]
    config["rule_files"] = [str(RULES_DIR / "*.yaml")]
    return config


def test_rendered_prometheus_config_passes_promtool_check(promtool, tmp_path):
    config = _rendered_prometheus_yml()
    assert config["scrape_configs"][0]["kubernetes_sd_configs"][0]["role"] == "pod"
    config["rule_files"] = [str(RULES_DIR / "*.yaml")]  # the mount point in the pod, the repo's files here
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = run(promtool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 2 rule files found" in result.stdout + result.stderr


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


def test_real_prometheus_scrapes_annotated_pods_with_the_rule_labels(promtool, tmp_path):
    prometheus = tool("prometheus")
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
    port = free_port()
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

        # The rollout analysis' own queries (windows of the step's interval, raw series): same numbers.
        measured = PrometheusAnalysis(url).observe("mlops", "iris", "canary", window_seconds=5)
        assert measured.requests and measured.requests > 0
        assert measured.error_ratio == pytest.approx(0.1)
        assert measured.p99_seconds == pytest.approx(0.5 + 0.5 * (0.99 * 10 - 9) / 1)
        assert PrometheusAnalysis(url).observe("mlops", "iris", "stable", window_seconds=5).requests is None
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
