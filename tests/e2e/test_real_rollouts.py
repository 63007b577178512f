"""Canary promotions on real pods, judged by the real Prometheus of the target stack (no scripted observer), under a
bounded load through the target's Service on this machine's node.

Source: the session's dev stack (tests/e2e/real_stack.py). Each candidate is built the way a user builds one: a model
trained against dev's MLflow (`run_training`), its serving image built and pushed (`images/publish.sh`), released to
dev (`pulumi up`), then `promote dev staging`. Target: a small staging stack on the same real node (2 replicas, canary
50 % → 100 %, two 20-second measurements per step, no MLflow of its own: the model is in the image).
- a healthy candidate (logistic regression) is released to dev by a rolling update under load, then goes through
  every canary step in staging and becomes stable, each with 0 failed requests; the registry gets staging's alias on
  it and the promotion's record as a tag;
- a slow one (a 4000-tree random forest, over the stack's p99 limit) is rolled back by the first analysis, with the
  failing value in the error; the stable track keeps serving.
Then staging → a one-replica blue-green prod: green is judged on the preview traffic the kit sends it, the flip and
the rollback fail no request under load and replace no Deployment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import yaml

from infra.config import PROJECT
from mlops_kit import images, stacks
from mlops_kit.analysis import PrometheusAnalysis
from mlops_kit.model_registry import MlflowRegistry
from mlops_kit.promotion import AnalysisFailed, promote, rollback
from mlops_kit.traffic import Load, held_out_rows, through_port_forward
from mlops_kit.waiting import wait_until
from tests.e2e.real_stack import MODEL, NAMESPACE, RealStack

pytestmark = pytest.mark.e2e

TARGET = "staging"
TARGET_NAMESPACE = "mlops-e2e-staging"
P99_LIMIT = 0.25  # seconds


def _target_config(real: RealStack, stack: str = TARGET, namespace: str = TARGET_NAMESPACE, **model_settings) -> None:
    """A small scratch stack on the real node: fast analysis, the dev stack's platform images by digest."""
    path = real.source / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    config = document["config"]
    config[f"{PROJECT}:namespace"] = namespace
    config[f"{PROJECT}:protectStateful"] = False  # the scratch stack is destroyed at the end
    config[f"{PROJECT}:tracking"] = {"enabled": False}
    config[f"{PROJECT}:retraining"] = {"enabled": False}
    config[f"{PROJECT}:monitoring"] = {
        "scrapeInterval": "5s",
        "storageSize": "1Gi",
        "prometheusImage": real.ctx.facts["images"]["prometheus"],
    }
    [model] = config[f"{PROJECT}:models"]
    model.update(
        image={"ref": real.ctx.facts["serving"]},
        modelVersion=real.ctx.facts["champion"],
        replicas=2,
        autoscaling={"enabled": False},
        canary={"steps": [50, 100], "weight": 0},
        analysis={
            "intervalSeconds": 20,
            "measurements": 2,
            "failureLimit": 0,
            "minRequests": 10,
            "maxErrorRate": 0.01,
            "maxP99Seconds": P99_LIMIT,
        },
    )
    model.update(model_settings)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture(scope="module")
def target(real_dev: RealStack) -> Iterator[RealStack]:
    _target_config(real_dev)
    result = real_dev.select(TARGET).up(color="never")
    assert result.summary.result == "succeeded"
    try:
        yield real_dev
    finally:
        real_dev.select(TARGET).destroy(color="never")


@pytest.fixture(scope="module")
def registry(real_dev: RealStack) -> Iterator[MlflowRegistry]:
    """dev's MLflow (the registry of the chain's versions), as the CLI reaches it: through a port-forward."""
    with real_dev.ctx.kube.port_forward(NAMESPACE, "svc/mlflow", 5000) as port:
        yield MlflowRegistry(f"http://127.0.0.1:{port}")


def _candidate(real: RealStack, estimator: str, params: dict, load: Load | None = None) -> tuple[str, str]:
    """Train a version in dev's MLflow, build and push its serving image, release it to dev (under `load` if given:
    the `up` is a rolling update): (version, image)."""
    from services.training.config import TrainingConfig
    from services.training.pipeline import run_training

    with real.ctx.kube.port_forward(NAMESPACE, "svc/mlflow", 5000) as port:
        uri = f"http://127.0.0.1:{port}"
        result = run_training(TrainingConfig(model_name=MODEL, estimator=estimator, params=params), uri)
        version = str(result.model_version)
        env = {"MODEL_NAME": MODEL, "MODEL_VERSION": version, "MLFLOW_TRACKING_URI": uri}
        image = images.publish(("serving",), real.logs / "candidates.log", env)["serving"]
    selected = real.select()
    overrides = stacks.local_overrides(selected.workspace, "dev")
    selected.set_local_overrides({**overrides, "models[0].image.ref": image, "models[0].modelVersion": version})
    with load or contextlib.nullcontext():
        assert selected.up(color="never").summary.result == "succeeded"
    return version, image


def _held_out_payloads() -> list[dict]:
    return [{"instances": [row]} for row in held_out_rows("breast_cancer")]


@contextlib.contextmanager
def _promotion_under_load(real: RealStack) -> Iterator[tuple[PrometheusAnalysis, Load, list[str]]]:
    service = real.ctx.kube.get("-n", TARGET_NAMESPACE, "service", MODEL)
    address = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    # One held-out row per request, in turn: the drift gate sees the training distribution, as it should.
    payloads = _held_out_payloads()
    printed: list[str] = []
    with (
        real.ctx.kube.port_forward(TARGET_NAMESPACE, "svc/prometheus", 9090) as port,
        Load(f"{address}/predict", clients=2, max_requests=20_000, max_seconds=900, rps=12, payloads=payloads) as load,
    ):
        yield PrometheusAnalysis(f"http://127.0.0.1:{port}"), load, printed


def _service_address(real: RealStack, namespace: str) -> str:
    service = real.ctx.kube.get("-n", namespace, "service", MODEL)
    return f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"


def _stable_image(real: RealStack) -> str:
    deployment = real.ctx.kube.get("-n", TARGET_NAMESPACE, "deployment", f"{MODEL}-stable")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def _replicas(real: RealStack, track: str) -> int:
    deployment = real.ctx.kube.get("-n", TARGET_NAMESPACE, "deployment", f"{MODEL}-{track}")
    return deployment["spec"].get("replicas", 0)


def test_a_healthy_candidate_rolls_out_to_dev_then_walks_every_canary_step_with_no_failed_request(
    target: RealStack, registry: MlflowRegistry
):
    dev_before = target.kubectl("deployment", MODEL)["metadata"]["uid"]
    rolling = Load(f"{target.address}/predict", clients=2, max_requests=20_000, max_seconds=600, rps=12,
                   payloads=_held_out_payloads())  # fmt: skip
    version, image = _candidate(target, "logistic_regression", {"C": 0.5}, load=rolling)
    assert rolling.outcome.sent > 50 and rolling.outcome.failed == 0, f"rolling update: {rolling.outcome.summary()}"
    deployment = target.kubectl("deployment", MODEL)
    assert deployment["metadata"]["uid"] == dev_before, "a rolling update must not replace the Deployment"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image

    with _promotion_under_load(target) as (prometheus, load, printed):
        release = promote(
            "dev", TARGET, MODEL, target.select, prometheus, printed.append, target.source, registry=registry
        )
    outcome = load.outcome
    assert release.image == image and release.model_version == version
    assert TARGET in registry.aliases(MODEL, version), "the registry names the version staging runs"
    log = "".join(printed)
    assert log.count("analysis of track canary: passed") == 2, log
    assert "measurement 2/2: passed" in log, log
    assert _stable_image(target) == image and _replicas(target, "canary") == 0
    assert outcome.sent > 100 and outcome.failed == 0, outcome.summary()


def test_a_candidate_over_the_p99_limit_is_rolled_back_by_the_analysis(target: RealStack, registry: MlflowRegistry):
    stable_before = _stable_image(target)
    slow, _ = _candidate(target, "random_forest", {"n_estimators": 4000})
    failure = r"analysis failed at 'canary at 50%'.*p99 [0-9.]+ s > 0.25 s"
    with _promotion_under_load(target) as (prometheus, load, printed), pytest.raises(AnalysisFailed, match=failure):
        promote("dev", TARGET, MODEL, target.select, prometheus, printed.append, target.source, registry=registry)
    assert TARGET not in registry.aliases(MODEL, slow), "a rolled-back version does not get the target's alias"
    assert _stable_image(target) == stable_before, "the stable track never changed"
    assert _replicas(target, "canary") == 0, "the canary was scaled back to zero"
    staged = yaml.safe_load((target.source / f"Pulumi.{TARGET}.yaml").read_text())
    assert staged["config"][f"{PROJECT}:models"][0]["canary"]["weight"] == 0
    record = staged["config"][f"{PROJECT}:promotion"]["last"]
    assert record["result"].startswith("rolled back: analysis failed at 'canary at 50%'"), record
    assert load.outcome.statuses[200] > 0 and not load.outcome.errors, load.outcome.summary()


PROD, PROD_NAMESPACE = "prod", "mlops-e2e-prod"


@pytest.fixture(scope="module")
def production(target: RealStack) -> Iterator[RealStack]:
    """A one-replica blue-green prod on the real node, blue running dev's first release."""
    _target_config(
        target,
        PROD,
        PROD_NAMESPACE,
        replicas=1,
        strategy="blue-green",
        blueGreen={"activeColor": "blue"},
        resources={"cpuRequest": "100m", "memoryRequest": "256Mi", "cpuLimit": "1", "memoryLimit": "512Mi"},
    )
    assert target.select(PROD).up(color="never").summary.result == "succeeded"
    try:
        yield target
    finally:
        target.select(PROD).destroy(color="never")


def _colour_uids(real: RealStack) -> dict[str, str]:
    return {
        colour: real.ctx.kube.get("-n", PROD_NAMESPACE, "deployment", f"{MODEL}-{colour}")["metadata"]["uid"]
        for colour in ("blue", "green")
    }


def test_blue_green_flips_and_rolls_back_under_load_with_no_failed_request(
    production: RealStack, registry: MlflowRegistry
):
    """staging → prod: deploy to green, judge green through its preview Service (the kit sends it held-out rows),
    flip; then roll back. Under load through prod's Service the whole time; no Deployment is replaced."""
    real = production
    staged = real.select(TARGET).outputs()["models"].value[MODEL]["image"]
    rows = held_out_rows("breast_cancer")
    traffic = through_port_forward(real.ctx.kube, 3000, rows)
    payloads = [{"instances": [row]} for row in rows]
    address = _service_address(real, PROD_NAMESPACE)
    uids = _colour_uids(real)
    printed: list[str] = []
    with (
        real.ctx.kube.port_forward(PROD_NAMESPACE, "svc/prometheus", 9090) as port,
        Load(f"{address}/predict", clients=2, max_requests=20_000, max_seconds=900, rps=12, payloads=payloads) as load,
    ):
        prometheus = PrometheusAnalysis(f"http://127.0.0.1:{port}")
        release = promote(
            "staging", PROD, MODEL, real.select, prometheus, printed.append, real.source, traffic=traffic,
            registry=registry,
        )  # fmt: skip
        service = real.ctx.kube.get("-n", PROD_NAMESPACE, "service", MODEL)
        assert service["spec"]["selector"]["mlops-kit.io/color"] == "green"
        flipped = load.outcome.sent
        promoted_version = release.model_version
        rollback(PROD, MODEL, real.select, printed.append, real.source, registry=registry)
        service = real.ctx.kube.get("-n", PROD_NAMESPACE, "service", MODEL)
        assert service["spec"]["selector"]["mlops-kit.io/color"] == "blue"
        wait_until(lambda: load.outcome.sent > flipped + 100, timeout=60, interval=1)
    log = "".join(printed)
    assert release.image == staged
    assert "sending 5 requests/s of held-out rows to breast-cancer-preview" in log, log
    assert "analysis of track green: passed" in log, log
    assert _colour_uids(real) == uids, "a flip or rollback replaced a colour's Deployment"
    assert PROD not in registry.aliases(MODEL, promoted_version), "the prod alias followed the rollback"
    assert load.outcome.sent > 300 and load.outcome.failed == 0, load.outcome.summary()
