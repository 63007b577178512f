"""What promotion checks before it touches the target, each refusal one clear error and the target untouched: the
chain's order, the source's outputs, the image's labels, the registry's aliases, an unreachable registry, and the
CLI's refusals that need no cluster."""

from __future__ import annotations

import pytest
import yaml

from infra.config import load_stack_file, parse_stack_config
from infra.strategies.base import PromotionError, Release
from mlops_kit.promotion import check_labels, check_order, promote
from tests.unit.promotion_doubles import DIGEST, LABELS_OF_7, RecordingRegistry, Source, Untouchable

RELEASE = Release("breast-cancer", DIGEST, "7")


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


def test_refused_promotions_touch_no_stack():
    with pytest.raises(PromotionError, match="takes releases from 'staging'"):
        promote("dev", "prod", "breast-cancer", lambda name: Untouchable(), None, registry=Untouchable())


def test_a_mislabelled_image_changes_nothing_in_the_target():
    stacks = {"dev": Source(), "staging": Untouchable()}
    with pytest.raises(PromotionError, match="does not serve what is promoted"):
        promote(
            "dev", "staging", "breast-cancer", stacks.__getitem__, None, label_reader=lambda ref: {},
            registry=Untouchable(),
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
        promote("dev", "qa", "breast-cancer", lambda name: Untouchable(), None, registry=Untouchable())


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
    registry = RecordingRegistry(carried)
    stacks = {source: Source(), target: Untouchable()}
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

    stacks = {"dev": Empty(), "staging": Untouchable()}
    with pytest.raises(PromotionError, match=r"stack 'dev' has no outputs: run `mlops-kit up -s dev` first"):
        promote("dev", "staging", "breast-cancer", stacks.__getitem__, None, registry=Untouchable())


def test_an_unreachable_tracking_server_is_one_clear_error():
    from mlops_kit.model_registry import MlflowRegistry, TrackingUnreachable

    with pytest.raises(TrackingUnreachable, match=r"the MLflow server at http://127.0.0.1:9 did not answer"):
        MlflowRegistry("http://127.0.0.1:9", timeout=2).aliases("breast-cancer", "7")


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
