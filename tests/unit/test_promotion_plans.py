"""Promotion and rollback plans: what each strategy turns a release into (steps, weights, gates, rollback edits),
and what those edits do to the rendered objects. Pure functions of stack config; no Pulumi, no cluster."""

from __future__ import annotations

import pytest
import yaml

from infra.config import load_stack_file, parse_stack_config
from infra.strategies import plan_promotion, plan_rollback
from infra.strategies.base import PromotionError, Release
from mlops_kit.paths import REPO_ROOT
from mlops_kit.promotion import release_from_outputs
from mlops_kit.render import stack_manifests
from mlops_kit.stacks import apply_edits

DIGEST = "127.0.0.1:5000/mlops-kit/serving@sha256:" + "c" * 64
RELEASE = Release("breast-cancer", DIGEST, "7")


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
