"""What promotion reads from and writes to the model registry, against a real MLflow server: a version's aliases,
a version that is not there, the target's alias and the promotion tag."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from mlops_kit.model_registry import MlflowRegistry, VersionNotRegistered, promotion_tag, record_tag_value
from services.training.config import TrainingConfig
from services.training.pipeline import run_training

pytestmark = pytest.mark.integration

NAME = "registry-marks"


@pytest.fixture(scope="module")
def version(tracking_uri) -> str:
    return str(run_training(TrainingConfig(model_name=NAME, estimator="dummy"), tracking_uri).model_version)


def test_the_aliases_the_gate_set_are_read_back(tracking_uri, version):
    assert MlflowRegistry(tracking_uri).aliases(NAME, version) == {"champion"}


def test_a_version_that_is_not_registered_is_a_clear_error(tracking_uri, version):
    registry = MlflowRegistry(tracking_uri)
    with pytest.raises(VersionNotRegistered, match=rf"version '99' of model '{NAME}' is not in the registry at"):
        registry.aliases(NAME, "99")
    with pytest.raises(VersionNotRegistered, match="of model 'no-such-model'"):
        registry.aliases("no-such-model", "1")


def test_a_promotion_leaves_the_targets_alias_and_its_record_on_the_version(tracking_uri, version):
    registry = MlflowRegistry(tracking_uri)
    record = {"modelVersion": version, "image": "r/s@sha256:" + "a" * 64, "source": "dev", "at": "t", "result": "x"}
    registry.set_tag(NAME, version, promotion_tag("staging"), record_tag_value({**record, "analysis": ["m"] * 9}))
    registry.set_alias(NAME, "staging", version)

    assert registry.aliases(NAME, version) == {"champion", "staging"}
    tags = MlflowClient(tracking_uri).get_model_version(NAME, version).tags
    assert json.loads(tags["mlops-kit.promotion.staging"]) == {
        k: record[k] for k in ("image", "source", "at", "result")
    }
