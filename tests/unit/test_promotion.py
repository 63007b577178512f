"""Promotion/rollback planning and gate decisions: pure functions, no Pulumi, no cluster."""

from __future__ import annotations

import pytest
import yaml

from infra.config import load_stack_file, parse_stack_config
from infra.strategies import plan_promotion, plan_rollback
from infra.strategies.base import PromotionError, Release
from mlops_kit.analysis import Thresholds
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
        promote("dev", "prod", "breast-cancer", lambda name: _Untouchable(), None, registry=_Untouchable())


class Source:
    """A source stack that exports version 7 of breast-cancer by digest."""

    def outputs(self):
        value = type("V", (), {"value": {"breast-cancer": {"image": DIGEST, "modelVersion": "7"}}})
        return {"models": value}


LABELS_OF_7 = {"mlops-kit.model.name": "breast-cancer", "mlops-kit.model.version": "7"}


def test_a_mislabelled_image_changes_nothing_in_the_target():
    stacks = {"dev": Source(), "staging": _Untouchable()}
    with pytest.raises(PromotionError, match="does not serve what is promoted"):
        promote(
            "dev", "staging", "breast-cancer", stacks.__getitem__, None, label_reader=lambda ref: {},
            registry=_Untouchable(),
        )  # fmt: skip


def test_an_unreachable_registry_is_one_clear_error():
    from mlops_kit.registry import RegistryError, RegistryUnreachable, image_labels

    with pytest.raises(RegistryUnreachable, match=r"cannot read the labels of 127.0.0.1:9/mlops-kit/serving@sha256:"):
        image_labels("127.0.0.1:9/mlops-kit/serving@sha256:" + "a" * 64, timeout=2)
    with pytest.raises(RegistryError, match="is not an image by digest"):
        image_labels("127.0.0.1:9/mlops-kit/serving:1")


def test_promoting_to_an_unknown_stack_names_the_missing_file():
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=r"Pulumi.qa.yaml"):
        promote("dev", "qa", "breast-cancer", lambda name: _Untouchable(), None, registry=_Untouchable())


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


class _Registry:
    def __init__(self, aliases: set[str]) -> None:
        self.carried, self.marks = aliases, []

    def aliases(self, model_name, version):
        return self.carried

    def set_alias(self, model_name, alias, version):
        self.marks.append(("alias", alias, version))

    def set_tag(self, model_name, version, key, value):
        self.marks.append(("tag", key, version))


@pytest.mark.parametrize(
    ("source", "target", "carried", "accepted"),
    [
        ("dev", "staging", {"previous-champion"}, r"\['challenger', 'champion', 'dev'\]"),
        ("staging", "prod", {"champion"}, r"needs one of \['staging'\]"),
    ],
)
def test_a_version_the_registry_does_not_place_in_the_source_is_refused_before_the_target_is_touched(
    source, target, carried, accepted
):
    registry = _Registry(carried)
    stacks = {source: Source(), target: _Untouchable()}
    with pytest.raises(PromotionError, match=rf"version 7 of breast-cancer carries aliases \[.*\].*{accepted}"):
        promote(source, target, "breast-cancer", stacks.__getitem__, None, label_reader=lambda ref: LABELS_OF_7,
                registry=registry)  # fmt: skip
    assert registry.marks == []


def test_the_chain_accepts_the_gates_aliases_only_where_releases_are_built():
    from mlops_kit.promotion import accepted_aliases

    assert accepted_aliases("dev", load_stack_file("dev")) == {"dev", "champion", "challenger"}
    assert accepted_aliases("staging", load_stack_file("staging")) == {"staging"}


def test_the_registry_of_a_chain_is_its_first_stacks_and_a_loop_is_refused(tmp_path):
    from mlops_kit.promotion import origin_of

    assert origin_of("prod")[0] == "dev"
    for name, source in (("a", "b"), ("b", "a")):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(
            yaml.safe_dump({"config": {"mlops-kit:environment": "staging", "mlops-kit:promotion": {"source": source}}})
        )
    with pytest.raises(PromotionError, match=r"promotion.source makes a loop: a → b → a"):
        origin_of("a", tmp_path)


def test_a_source_with_nothing_deployed_is_refused_naming_the_command():
    class Empty:
        def outputs(self):
            return {}

    stacks = {"dev": Empty(), "staging": _Untouchable()}
    with pytest.raises(PromotionError, match=r"stack 'dev' has no outputs: run `mlops-kit up -s dev` first"):
        promote("dev", "staging", "breast-cancer", stacks.__getitem__, None, registry=_Untouchable())


def test_an_unreachable_tracking_server_is_one_clear_error():
    from mlops_kit.model_registry import MlflowRegistry, TrackingUnreachable

    with pytest.raises(TrackingUnreachable, match=r"the MLflow server at http://127.0.0.1:9 did not answer"):
        MlflowRegistry("http://127.0.0.1:9", timeout=2).aliases("breast-cancer", "7")


def test_marking_the_registry_tags_every_outcome_and_moves_the_alias_only_where_the_target_runs_it():
    from mlops_kit.promotion import _mark_registry

    registry = _Registry({"dev"})
    record = {"modelVersion": "7", "image": DIGEST, "source": "dev", "at": "t", "result": "promoted"}
    _mark_registry(registry, "breast-cancer", "staging", record, print, runs_it=True)
    _mark_registry(registry, "breast-cancer", "staging", {**record, "result": "rolled back: x"}, print, runs_it=False)
    assert registry.marks == [
        ("tag", "mlops-kit.promotion.staging", "7"),
        ("alias", "staging", "7"),
        ("tag", "mlops-kit.promotion.staging", "7"),
    ]


def test_the_cli_refuses_an_out_of_order_promotion_before_it_needs_a_cluster():
    from typer.testing import CliRunner

    from mlops_kit.cli import app

    result = CliRunner().invoke(app, ["promote", "dev", "prod", "--no-gates"])
    assert result.exit_code == 2, result.output
    assert "'prod' takes releases from 'staging'" in result.output


def test_the_cli_refuses_a_chain_whose_first_stack_has_no_registry(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mlops_kit.cli import app

    def origin_without_tracking(stack, work_dir=None):
        return "dev", parse_stack_config({"environment": "dev", "tracking": {"enabled": False}})

    monkeypatch.setattr("mlops_kit.promotion.origin_of", origin_without_tracking)
    result = CliRunner().invoke(app, ["promote", "dev", "staging", "--no-gates"])
    assert result.exit_code == 2, result.output
    assert "come from stack 'dev', which runs no MLflow" in result.output and "--tracking-uri" in result.output
