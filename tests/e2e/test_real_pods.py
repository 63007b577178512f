"""The dev stack on the e2e cluster's real node (tests/e2e/real_stack.py, launched by the main job `make up` runs):
real containers pulled from the local registry, a real MLflow, a real Prometheus scraping real model pods, and an HPA
fed by metrics-server. Load goes only to the Service address on this machine's node, bounded in count and time
(mlops_kit/traffic.py).
"""

from __future__ import annotations

import json

import httpx
import pytest

from infra.manifests.placement import NODE_KIND_LABEL
from mlops_kit.traffic import Load
from mlops_kit.waiting import GaveUp, wait_until
from tests.e2e.real_stack import MODEL, NAMESPACE, SCALE_DOWN_WINDOW, RealStack
from tests.e2e.real_stack import sample as _sample

pytestmark = pytest.mark.e2e


@pytest.fixture
def real_stack(real_dev: RealStack) -> RealStack:
    return real_dev


def test_the_main_job_serves_correct_labels_from_the_real_node(real_stack: RealStack):
    rows, expected = _sample()
    answer = httpx.post(f"{real_stack.address}/predict", json={"instances": rows}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert [item["label"] for item in answer.json()] == expected
    assert answer.headers["x-model-version"] == real_stack.ctx.facts["champion"]

    (pod,) = real_stack.model_pods()
    node = real_stack.ctx.kube.get("node", pod["spec"]["nodeName"])
    assert node["metadata"]["labels"][NODE_KIND_LABEL] == "real"
    (status,) = pod["status"]["containerStatuses"]
    digest = real_stack.ctx.facts["serving"].rsplit("@", 1)[1]
    assert status["ready"] and status["imageID"].endswith(digest), "the pod runs the exact pushed serving image"


def test_prometheus_scrapes_the_model_pods_and_records_the_rules(real_stack: RealStack):
    rows, _ = _sample()
    (pod,) = real_stack.model_pods()
    track = pod["metadata"]["labels"]["mlops-kit.io/track"]
    with real_stack.ctx.kube.port_forward(NAMESPACE, "svc/prometheus", 9090) as port:

        def series(expr: str) -> list[dict]:
            response = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=10)
            response.raise_for_status()
            return response.json()["data"]["result"]

        # Prometheus discovers the pod through the API and scrapes it on its own schedule (every 15 s). A counter it
        # first sees after the traffic shows no increase, so wait until it has scraped the /predict counter the main
        # job's sample prediction created, then send traffic over several scrapes.
        pod_labels = f'namespace="{NAMESPACE}", pod="{pod["metadata"]["name"]}"'
        seen = lambda: series(f'bentoml_service_request_total{{{pod_labels}, endpoint="/predict"}}')  # noqa: E731
        seen() or _eventually(real_stack, seen, 90, "the pod's /predict counter scraped")
        assert [s["value"][1] for s in series(f"up{{{pod_labels}}}")] == ["1"], "a healthy scrape target"
        url = f"{real_stack.address}/predict"
        with Load(url, {"instances": rows}, clients=2, max_requests=300, max_seconds=90, rps=10) as load:
            outcome = load.wait()
        assert outcome.statuses[200] == outcome.sent == 300, outcome.summary()

        selector = f'{{namespace="{NAMESPACE}", service="{MODEL}", track="{track}"}}'
        rules = [
            "mlops:request_rate:rate5m",
            "mlops:request_error_ratio:rate5m",
            "mlops:request_latency_p99:rate5m",
            "mlops:model_psi_max:1h",
        ]
        # One more scrape after the traffic and one rule evaluation after that.
        with_series = lambda: all(series(rule + selector) for rule in rules)  # noqa: E731
        with_series() or _eventually(real_stack, with_series, 120, "recording rules with series")
        missing = [rule for rule in rules if not series(rule + selector)]
        assert not missing, f"no series for {missing} with {selector}"
        assert float(series("mlops:request_rate:rate5m" + selector)[0]["value"][1]) > 0
        assert float(series("mlops:request_error_ratio:rate5m" + selector)[0]["value"][1]) == 0


def _champion(real_stack: RealStack) -> tuple[str, str, list[str]]:
    from mlflow import MlflowClient

    with real_stack.ctx.kube.port_forward(NAMESPACE, "svc/mlflow", 5000) as port:
        client = MlflowClient(f"http://127.0.0.1:{port}")
        version = client.get_model_version_by_alias(MODEL, "champion")
        artifacts = sorted(a.path for a in client.list_artifacts(version.run_id))
        return version.version, version.run_id, artifacts


def test_mlflow_survives_its_pod_and_a_second_launch_changes_nothing(real_stack: RealStack):
    before = _champion(real_stack)
    assert before[2], "the champion's run has artifacts"
    (old,) = real_stack.kubectl("pods", "-l", "app.kubernetes.io/name=mlflow")["items"]
    real_stack.ctx.kube.run("-n", NAMESPACE, "delete", "pod", old["metadata"]["name"], "--wait=true", timeout=120)

    def replaced() -> bool:
        pods = real_stack.kubectl("pods", "-l", "app.kubernetes.io/name=mlflow")["items"]
        return any(
            p["metadata"]["uid"] != old["metadata"]["uid"]
            and all(s["ready"] for s in p["status"].get("containerStatuses", [{"ready": False}]))
            for p in pods
        )

    wait_until(replaced, timeout=180, interval=2)
    assert _champion(real_stack) == before, "registry, runs and artifacts live on the PVC, not in the pod"

    printed = real_stack.relaunch()
    lines = {line.split(":")[0].split("] ")[-1]: line for line in printed.splitlines() if line.startswith("✓")}
    assert "already champion" in lines["champion"], printed
    assert "no changes" in lines["platform"] and "no changes" in lines["release"], printed


def _eventually(real_stack: RealStack, check, timeout: float, what: str) -> None:
    """Wait for `check`; on timeout fail with what the model's HPA and pods said (the usual suspects)."""
    try:
        wait_until(check, timeout=timeout, interval=3)
    except GaveUp as gave_up:
        hpa = real_stack.ctx.kube.run("-n", NAMESPACE, "describe", "hpa", MODEL)
        pods = real_stack.ctx.kube.run("-n", NAMESPACE, "get", "pods", "-o", "wide")
        pytest.fail(f"{what}: {gave_up}\n{hpa[-2500:]}\n{pods}")


def _replicas(real_stack: RealStack) -> int:
    return real_stack.kubectl("deployment", MODEL)["status"].get("readyReplicas", 0)


def test_load_scales_the_model_up_and_the_quiet_scales_it_back_down(real_stack: RealStack):
    rows, _ = _sample()
    assert _replicas(real_stack) == 1
    # 4 clients keep the pod far above 70 % of its 100m CPU request; the HPA reads metrics-server every 15 s.
    with Load(f"{real_stack.address}/predict", {"instances": rows}, clients=4, max_requests=50_000, max_seconds=240):
        _eventually(real_stack, lambda: _replicas(real_stack) == 2, 240, "scale up to 2 replicas under load")
    hpa = real_stack.kubectl("hpa", MODEL)
    assert hpa["status"]["desiredReplicas"] >= 2
    assert hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] is not None
    # Quiet: back to one replica after the stabilization window (plus metric and sync delays).
    _eventually(real_stack, lambda: _replicas(real_stack) == 1, SCALE_DOWN_WINDOW + 180, "scale back down to 1")


def test_deleting_a_serving_pod_under_load_fails_no_request(real_stack: RealStack):
    real_stack.edit_model(autoscaling={"minReplicas": 2})
    _eventually(real_stack, lambda: _replicas(real_stack) == 2, 180, "minReplicas 2 applied")
    rows, _ = _sample()
    victim = real_stack.model_pods()[0]["metadata"]["name"]
    with Load(
        f"{real_stack.address}/predict", {"instances": rows}, clients=2, max_requests=3000, max_seconds=45
    ) as load:
        wait_until(lambda: load.outcome.sent >= 50, timeout=30, interval=0.2)
        real_stack.ctx.kube.run("-n", NAMESPACE, "delete", "pod", victim, "--wait=true", timeout=120)
        outcome = load.wait()
    assert outcome.sent > 100, outcome.summary()
    assert outcome.failed == 0, outcome.summary()
    names = {p["metadata"]["name"] for p in real_stack.model_pods()}
    assert victim not in names


def test_the_kit_reports_the_pods_it_runs(real_stack: RealStack):
    """`kubectl get pods` of the namespace: every pod is on the real node and none restarted (no crash loop)."""
    pods = real_stack.kubectl("pods")["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    assert {p["metadata"]["labels"].get("app.kubernetes.io/name") for p in running} >= {
        "mlflow",
        "prometheus",
        "model-service",
    }
    restarts = {
        p["metadata"]["name"]: sum(s["restartCount"] for s in p["status"].get("containerStatuses", [])) for p in running
    }
    assert not any(restarts.values()), json.dumps(restarts)
