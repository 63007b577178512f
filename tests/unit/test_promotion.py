"""Promotion/rollback planning and gate decisions: pure functions, no Pulumi, no cluster."""

from __future__ import annotations

import pytest
import yaml

from infra.config import load_stack_file, parse_stack_config
from infra.strategies import plan_promotion, plan_rollback
from infra.strategies.base import PromotionError, Release
from mlops_kit.analysis import Observation, Schedule, Thresholds, evaluate, run_analysis
from mlops_kit.paths import REPO_ROOT
from mlops_kit.promotion import check_labels, check_order, promote, release_from_outputs
from mlops_kit.render import stack_manifests
from mlops_kit.stacks import apply_edits

DIGEST = "127.0.0.1:5000/mlops-kit/serving@sha256:" + "c" * 64
RELEASE = Release("breast-cancer", DIGEST, "7")
LIMITS = Thresholds(max_error_rate=0.01, max_p99_seconds=0.5, max_drift_psi=0.25)


def test_release_resolves_tags_to_digests_and_keeps_digests():
    outputs = {"models": {"breast-cancer": {"image": "127.0.0.1:5000/s:1", "modelVersion": "7"}}}
    release = release_from_outputs(outputs, "breast-cancer", lambda ref: DIGEST)
    assert release == RELEASE
    outputs["models"]["breast-cancer"]["image"] = DIGEST
    assert release_from_outputs(outputs, "breast-cancer", lambda ref: pytest.fail("digest re-resolved")) == RELEASE


def test_unknown_model_names_what_exists():
    with pytest.raises(PromotionError, match=r"exports no model 'x'; it has \['breast-cancer'\]"):
        release_from_outputs({"models": {"breast-cancer": {}}}, "x", str)


def test_canary_promotion_walks_the_weights_with_gates_then_hands_over_before_removing_the_canary():
    steps = plan_promotion(load_stack_file("staging"), RELEASE)
    weights = [s.edits.get("models[0].canary.weight") for s in steps]
    assert weights == [10, 50, 100, 50, 0]
    assert all(s.gate_track == "canary" and s.rollback_edits == {"models[0].canary.weight": 0} for s in steps[:3])
    assert steps[0].edits["models[0].canary.image.ref"] == DIGEST
    handover, removal = steps[-2:]
    assert handover.edits["models[0].image.ref"] == DIGEST and handover.edits["models[0].modelVersion"] == "7"
    assert "models[0].canary.image" not in handover.edits, "the canary serves until the stable track is ready"
    assert removal.edits == {
        "models[0].canary.weight": 0,
        "models[0].canary.image": None,
        "models[0].canary.modelVersion": None,
    }
    assert handover.gate_track is None and removal.gate_track is None


def test_canary_steps_say_the_share_the_replicas_really_give():
    # staging: 2 replicas (autoscaling.minReplicas 2): 10 % cannot be split, one canary pod of two is 50 %.
    names = [s.description for s in plan_promotion(load_stack_file("staging"), RELEASE)[:3]]
    assert names == [
        "canary at 10% (effective 50%: 1 canary, 1 stable replicas; canary.steps)",
        "canary at 50%",
        "canary at 100%",
    ]


def test_blue_green_promotion_deploys_idle_gates_then_flips_keeping_previous_for_rollback():
    prod = load_stack_file("prod")
    deploy, flip = plan_promotion(prod, RELEASE)
    assert deploy.edits == {"models[0].blueGreen.idleImage.ref": DIGEST, "models[0].blueGreen.idleModelVersion": "7"}
    assert deploy.gate_track == "green", "the gate judges the idle colour's own pods"
    assert flip.edits["models[0].blueGreen.activeColor"] == "green"
    assert flip.edits["models[0].image.ref"] == DIGEST
    assert flip.edits["models[0].blueGreen.idleImage.ref"] == prod.models[0].image.ref


def test_rolling_promotion_is_one_step():
    [step] = plan_promotion(load_stack_file("dev"), RELEASE)
    assert step.edits == {"models[0].image.ref": DIGEST, "models[0].modelVersion": "7"}


def test_blue_green_rollback_flips_back():
    cfg = parse_stack_config(
        {
            "environment": "prod",
            "models": [
                {
                    "name": "bc",
                    "modelVersion": "7",
                    "image": {"ref": DIGEST},
                    "blueGreen": {
                        "activeColor": "green",
                        "idleImage": {"ref": DIGEST.replace("c", "d")},
                        "idleModelVersion": "6",
                    },
                }
            ],
        }
    )
    step = plan_rollback(cfg, "bc")
    assert step.edits["models[0].blueGreen.activeColor"] == "blue"
    assert step.edits["models[0].image.ref"] == DIGEST.replace("c", "d")
    assert step.edits["models[0].modelVersion"] == "6"


def test_rollback_without_a_previous_release_is_refused():
    with pytest.raises(PromotionError, match="holds no previous release"):
        plan_rollback(load_stack_file("prod"), "breast-cancer")
    with pytest.raises(PromotionError, match="rolling strategy"):
        plan_rollback(load_stack_file("dev"), "breast-cancer")
    assert plan_rollback(load_stack_file("staging"), "breast-cancer").edits == {"models[0].canary.weight": 0}


@pytest.mark.parametrize(
    ("observed", "passed", "fragment"),
    [
        (Observation(0.0, 0.05, 0.01, 300), True, "error ratio 0.0000"),
        (Observation(0.02, 0.05, None, 300), False, "error ratio 0.0200 > 0.01"),
        (Observation(0.0, 0.9, None, 300), False, "p99 0.900 s > 0.5 s"),
        (Observation(0.0, 0.05, 0.4, 300, drift_rows=5000), False, "input drift PSI 0.400 > 0.25 (5000 rows)"),
        (Observation(0.0, 0.05, 0.9, 300, drift_rows=120), True, "drift not judged (120 rows < 1000)"),
        (Observation(None, None, None, None), False, "too little traffic"),
        (Observation(0.0, 0.05, None, 3), False, "too little traffic to judge (3 requests < 20)"),
        (Observation(0.0, None, None, 300), False, "no latency series"),
    ],
)
def test_gate_decisions_fail_closed(observed, passed, fragment):
    result = evaluate(observed, LIMITS)
    assert result.passed is passed
    assert fragment in result.describe()


def _manifests_after(document: dict, *steps) -> dict[tuple[str, str], dict]:
    config = document["config"]
    for step in steps:
        config = apply_edits(config, step.edits)
    cfg = parse_stack_config({k.removeprefix("mlops-kit:"): v for k, v in config.items()})
    return {(m["kind"], m["metadata"]["name"]): m for m in stack_manifests(cfg)}


def test_blue_green_flip_and_rollback_change_only_the_services():
    """Deployments (selectors, pod templates, replicas) and HPAs stay byte for byte: no replace, no pod restarted."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    deploy, flip = plan_promotion(load_stack_file("prod"), RELEASE)
    deployed, flipped = _manifests_after(document, deploy), _manifests_after(document, deploy, flip)
    changed = {key for key in deployed if deployed[key] != flipped[key]}
    assert changed == {("Service", "breast-cancer"), ("Service", "breast-cancer-preview")}, changed
    assert flipped[("Service", "breast-cancer")]["spec"]["selector"]["mlops-kit.io/color"] == "green"

    config = document["config"]
    for step in (deploy, flip):
        config = apply_edits(config, step.edits)
    back = plan_rollback(
        parse_stack_config({k.removeprefix("mlops-kit:"): v for k, v in config.items()}), "breast-cancer"
    )
    rolled_back = _manifests_after({"config": config}, back)
    changed = {key for key in flipped if flipped[key] != rolled_back[key]}
    assert changed == {("Service", "breast-cancer"), ("Service", "breast-cancer-preview")}, changed
    assert rolled_back[("Service", "breast-cancer")]["spec"]["selector"]["mlops-kit.io/color"] == "blue"


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("dev", "prod", r"'prod' takes releases from 'staging' \(mlops-kit:promotion.source\), not from 'dev'"),
        ("staging", "dev", r"'dev' takes no promotions"),
        ("prod", "staging", r"'staging' takes releases from 'dev'"),
    ],
)
def test_promotion_out_of_order_is_refused(source, target, message):
    with pytest.raises(PromotionError, match=message):
        check_order(source, target, load_stack_file(target))


def test_promotion_follows_a_chain_the_config_declares():
    check_order("dev", "staging", load_stack_file("staging"))
    check_order("qa", "prod", parse_stack_config({"environment": "prod", "promotion": {"source": "qa"}}))


def test_an_image_that_serves_another_version_is_refused_naming_what_differs():
    model = load_stack_file("staging").models[0]
    check_labels(RELEASE, model, {"mlops-kit.model.name": "breast-cancer", "mlops-kit.model.version": "7"})
    with pytest.raises(PromotionError, match=r"mlops-kit.model.version is '6', the promotion says '7'"):
        check_labels(RELEASE, model, {"mlops-kit.model.name": "breast-cancer", "mlops-kit.model.version": "6"})
    with pytest.raises(PromotionError, match=r"mlops-kit.model.name is None"):
        check_labels(RELEASE, model, {})


class _Untouchable:
    """A stack that fails the test if anything reads or changes it."""

    def __getattr__(self, name):
        pytest.fail(f"the promotion touched a stack ({name}) before its checks passed")


def test_refused_promotions_touch_no_stack():
    with pytest.raises(PromotionError, match="takes releases from 'staging'"):
        promote("dev", "prod", "breast-cancer", lambda name: _Untouchable(), None)


def test_a_mislabelled_image_changes_nothing_in_the_target():
    class Source:
        def outputs(self):
            value = type("V", (), {"value": {"breast-cancer": {"image": DIGEST, "modelVersion": "7"}}})
            return {"models": value}

    stacks = {"dev": Source(), "staging": _Untouchable()}
    with pytest.raises(PromotionError, match="does not serve what is promoted"):
        promote("dev", "staging", "breast-cancer", stacks.__getitem__, None, label_reader=lambda ref: {})


def _run(observations, failure_limit=0):
    answers, printed, slept = list(observations), [], []
    result = run_analysis(
        lambda window: answers.pop(0),
        Schedule(30, len(observations), failure_limit),
        LIMITS,
        printed.append,
        slept.append,
    )
    return result, printed, slept


GOOD = Observation(0.0, 0.05, None, 300)
BAD = Observation(0.2, 0.05, None, 300)


def test_analysis_measures_every_interval_and_prints_each_measurement():
    result, printed, slept = _run([GOOD, GOOD, GOOD])
    assert result.passed and result.reasons == ["3 of 3 measurements passed"]
    assert slept == [30, 30, 30], "each measurement waits one interval, then looks at that interval only"
    assert [line.split(":")[0] for line in printed] == [f"measurement {i}/3" for i in (1, 2, 3)]
    assert result.measurements == [line.rstrip("\n") for line in printed]


def test_analysis_fails_once_the_failure_limit_is_exceeded_and_stops_there():
    result, printed, _ = _run([GOOD, BAD, GOOD, GOOD], failure_limit=0)
    assert not result.passed and len(printed) == 2
    assert result.reasons[:2] == ["1 of 2 measurements failed (failureLimit 0)", "error ratio 0.2000 > 0.01"]
    tolerated, _, _ = _run([GOOD, BAD, GOOD], failure_limit=1)
    assert tolerated.passed and tolerated.reasons == ["2 of 3 measurements passed"]


def test_an_unreachable_prometheus_fails_the_measurement_closed():
    from mlops_kit.analysis import PrometheusError

    def measure(window):
        raise PrometheusError("Prometheus at http://127.0.0.1:1 did not answer")

    result = run_analysis(measure, Schedule(30, 2, 0), LIMITS, lambda line: None, lambda s: None)
    assert not result.passed and "did not answer" in result.describe()


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        (
            {"intervalSeconds": 30},
            r"analysis.intervalSeconds 30 is shorter than four scrapes \(monitoring.scrapeInterval 15s\): use at least 60",
        ),
        ({"measurements": 2, "failureLimit": 2}, r"failureLimit 2 must be below measurements 2"),
        ({"intervalSeconds": 5}, r"intervalSeconds.*greater than or equal to 10"),
    ],
)
def test_analysis_settings_out_of_range_name_the_key(analysis, message):
    from infra.config import ConfigError

    model = {"name": "bc", "image": {"ref": "r/s:1"}, "analysis": analysis}
    with pytest.raises(ConfigError, match=message):
        parse_stack_config({"environment": "dev", "models": [model]})


def test_an_unreachable_registry_is_one_clear_error():
    from mlops_kit.registry import RegistryError, RegistryUnreachable, image_labels

    with pytest.raises(RegistryUnreachable, match=r"cannot read the labels of 127.0.0.1:9/mlops-kit/serving@sha256:"):
        image_labels("127.0.0.1:9/mlops-kit/serving@sha256:" + "a" * 64, timeout=2)
    with pytest.raises(RegistryError, match="is not an image by digest"):
        image_labels("127.0.0.1:9/mlops-kit/serving:1")


def test_promoting_to_an_unknown_stack_names_the_missing_file():
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=r"Pulumi.qa.yaml"):
        promote("dev", "qa", "breast-cancer", lambda name: _Untouchable(), None)


def test_the_promotion_record_is_one_config_call_and_parses_back():
    from mlops_kit.promotion import _record

    class Stack:
        def __init__(self):
            self.calls = []

        def remove_config(self, key, path):
            self.calls.append(("remove", key))

        def set_all_config(self, config, path):
            self.calls.append(("set", {k: v.value for k, v in config.items()}))

    stack = Stack()
    record = {"model": "breast-cancer", "image": DIGEST, "modelVersion": "7", "source": "dev",
              "at": "2026-12-03T17:00:00+00:00", "result": "promoted", "analysis": ["canary at 50%: m 1/1: passed"]}  # fmt: skip
    _record(stack, record)
    assert stack.calls[0] == ("remove", "promotion.last")
    (_, leaves) = stack.calls[1]
    assert leaves["promotion.last.modelVersion"] == "7"
    assert leaves["promotion.last.analysis[0]"] == "canary at 50%: m 1/1: passed"
    cfg = parse_stack_config({"environment": "staging", "promotion": {"last": {**record}}})
    assert cfg.promotion.source == "dev" and cfg.promotion.last.result == "promoted"
