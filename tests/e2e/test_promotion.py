"""Promotion dev → staging (canary) → prod (blue-green) and rollback, with the real engine on the local cluster.

The gates' Prometheus queries are unit/integration-tested elsewhere; these stacks run on the local cluster's fake
nodes, where no container runs, so no traffic exists to measure here. The observers below stand in for Prometheus and
decide pass/fail (with no wait between measurements), which is what these tests are about: what each step does to the
stacks and to the cluster.
"""

from __future__ import annotations

import subprocess

import pytest

from infra.config import load_stack_file
from mlops_kit.analysis import Observation
from mlops_kit.promotion import AnalysisFailed, promote, rollback
from mlops_kit.registry import resolve_digest

pytestmark = pytest.mark.e2e

NO_WAIT = lambda seconds: None  # noqa: E731  (the scripted observer needs no interval to pass)

HEALTHY = Observation(error_ratio=0.0, p99_seconds=0.05, drift_psi=None, requests=300)
FAILING = Observation(error_ratio=0.2, p99_seconds=0.05, drift_psi=None, requests=300)


class ScriptedObserver:
    def __init__(self, *answers: Observation) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, str]] = []

    def observe(self, namespace: str, service: str, track: str, window_seconds: int) -> Observation:
        self.calls.append((namespace, service, track))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture(scope="module")
def dev_image(docker) -> str:
    """Push an image under the tag the dev stack names, labelled as the serving image labels itself (model name and
    version: promotion checks them), so promotion resolves a real registry digest."""
    model = load_stack_file("dev").models[0]
    reference = model.image.ref
    dockerfile = (
        "FROM mlops-kit/base:bookworm\n"
        f'LABEL mlops-kit.model.name="{model.model_name or model.name}" mlops-kit.model.version="{model.model_version}"\n'
    )
    for args, stdin in ((["build", "-q", "-t", reference, "-"], dockerfile), (["push", reference], None)):
        done = subprocess.run([docker, *args], input=stdin, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (
            f"docker {' '.join(args)}: {done.stderr[-2000:]} (run bash scripts/docker-engine.sh, scripts/base-image.sh, scripts/registry.sh)"
        )
    return resolve_digest(reference)


def image_of(kubectl, namespace: str, deployment: str) -> tuple[str, int]:
    item = kubectl("-n", namespace, "get", "deployment", deployment)
    return item["spec"]["template"]["spec"]["containers"][0]["image"], item["spec"].get("replicas", 0)


@pytest.fixture
def destroyed_after(runner):
    """The three stacks are destroyed after the test, also when it fails (the other e2e modules start from none)."""
    yield
    for name in ("dev", "staging"):
        runner.select(name).destroy(on_output=runner.printer, color="never")
    subprocess.run(
        ["pulumi", "state", "unprotect", "--all", "--yes", "-s", "prod", "--cwd", str(runner.project)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    runner.select("prod").destroy(on_output=runner.printer, color="never")


def test_promotion_through_canary_and_blue_green_then_rollback(runner, dev_image, kubectl, destroyed_after):
    select = runner.select
    log = runner.printer
    select("dev").up(on_output=log, color="never")

    # A failing gate at the first canary step rolls the canary back to 0% and leaves stable untouched.
    with pytest.raises(AnalysisFailed, match=r"analysis failed at 'canary at 10%.*error ratio 0.2000 > 0.01"):
        promote(
            "dev", "staging", "breast-cancer", select, ScriptedObserver(FAILING), log, runner.project, sleep=NO_WAIT
        )
    staging = load_stack_file("staging", runner.project)
    assert staging.models[0].canary.weight == 0
    _, canary_replicas = image_of(kubectl, staging.namespace, "breast-cancer-canary")
    assert canary_replicas == 0

    # Healthy gates: 10 → 50 → 100, then the canary image becomes the stable image.
    observer = ScriptedObserver(HEALTHY)
    release = promote("dev", "staging", "breast-cancer", select, observer, log, runner.project, sleep=NO_WAIT)
    assert release.image == dev_image, "promotion must carry the exact digest, never a tag"
    per_gate = load_stack_file("staging", runner.project).models[0].analysis.measurements
    assert [c[2] for c in observer.calls] == ["canary"] * 3 * per_gate, "3 gates, each its measurements"
    staging = load_stack_file("staging", runner.project)
    assert staging.models[0].image.ref == dev_image and staging.models[0].canary.weight == 0
    record = select("staging").outputs()["lastPromotion"].value
    assert (record["result"], record["image"], record["source"]) == ("promoted", dev_image, "dev")
    assert len(record["analysis"]) == len(observer.calls), "every measurement is kept with the record"
    stable_image, stable_replicas = image_of(kubectl, staging.namespace, "breast-cancer-stable")
    assert stable_image == dev_image and stable_replicas >= 1

    # staging → prod: deploy to the idle colour, gate on its own pods (track = colour), flip.
    observer = ScriptedObserver(HEALTHY)
    promote("staging", "prod", "breast-cancer", select, observer, log, runner.project, sleep=NO_WAIT)
    assert [c[2] for c in observer.calls] == ["green"] * load_stack_file("prod", runner.project).models[
        0
    ].analysis.measurements
    prod = load_stack_file("prod", runner.project)
    assert prod.models[0].blue_green.active_color == "green"
    service = kubectl("-n", prod.namespace, "get", "service", "breast-cancer")
    assert service["spec"]["selector"]["mlops-kit.io/color"] == "green"
    assert image_of(kubectl, prod.namespace, "breast-cancer-green")[0] == dev_image

    # Rollback is a selector flip back to blue, which still runs the previous release: no Deployment replaced.
    uids = {
        c: kubectl("-n", prod.namespace, "get", "deployment", f"breast-cancer-{c}")["metadata"]["uid"]
        for c in ("blue", "green")
    }
    rollback("prod", "breast-cancer", select, log, runner.project)
    after = {
        c: kubectl("-n", prod.namespace, "get", "deployment", f"breast-cancer-{c}")["metadata"]["uid"]
        for c in ("blue", "green")
    }
    assert after == uids, "a rollback replaced a colour's Deployment"
    service = kubectl("-n", prod.namespace, "get", "service", "breast-cancer")
    assert service["spec"]["selector"]["mlops-kit.io/color"] == "blue"
    assert image_of(kubectl, prod.namespace, "breast-cancer-blue")[0] != dev_image
