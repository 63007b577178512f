"""The champion gate (champion/challenger aliases) against a real MLflow server and registry."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from services.training.config import TrainingConfig
from services.training.data import DataValidationError
from services.training.pipeline import run_training

pytestmark = pytest.mark.integration


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    return dict(client.get_registered_model(name).aliases)


def test_gate_sequence_first_champion_worse_challenger_better_champion(tracking_uri):
    client = MlflowClient(tracking_uri)
    name = "gate-sequence"
    weak = run_training(
        TrainingConfig(model_name=name, estimator="random_forest", params={"n_estimators": 1, "max_depth": 1}),
        tracking_uri,
    )
    assert weak.decision.alias == "champion"
    assert _aliases(client, name) == {"champion": weak.model_version}

    worse = run_training(TrainingConfig(model_name=name, estimator="dummy"), tracking_uri)
    assert worse.decision.alias == "challenger"
    assert worse.decision.champion_score == pytest.approx(weak.metrics["roc_auc"])
    assert _aliases(client, name) == {"champion": weak.model_version, "challenger": worse.model_version}

    better = run_training(TrainingConfig(model_name=name, estimator="logistic_regression"), tracking_uri)
    assert better.decision.alias == "champion"
    assert better.metrics["roc_auc"] > weak.metrics["roc_auc"]
    assert _aliases(client, name) == {
        "champion": better.model_version,
        "previous-champion": weak.model_version,
        "challenger": worse.model_version,
    }

    # The decision and both scores are recorded on the model version and on the run.
    version = client.get_model_version(name, better.model_version)
    assert version.tags["gate.alias"] == "champion"
    assert float(version.tags["gate.champion_score"]) == pytest.approx(weak.metrics["roc_auc"])
    run = client.get_run(better.run_id)
    assert run.data.tags["gate.reason"].startswith("roc_auc")
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(weak.metrics["roc_auc"])


def test_run_records_lineage_params_metrics_and_baseline(tracking_uri):
    client = MlflowClient(tracking_uri)
    result = run_training(TrainingConfig(model_name="lineage", params={"C": 0.3}), tracking_uri)
    run = client.get_run(result.run_id)
    assert run.data.params["model.C"] == "0.3"
    assert set(run.data.metrics) >= {"accuracy", "precision", "recall", "f1", "roc_auc"}
    contexts = {i.tags[0].value for i in run.inputs.dataset_inputs}
    assert contexts == {"training", "evaluation"}
    assert run.data.tags["dataset.digest"] == result.dataset_digest
    assert run.data.tags["dataset.source"].endswith("breast_cancer.csv")
    artifacts = [a.path for a in client.list_artifacts(result.run_id, "baseline")]
    assert artifacts == ["baseline/feature_baseline.json"]
    model_version = client.get_model_version("lineage", result.model_version)
    assert model_version.tags["dataset.digest"] == result.dataset_digest


def test_invalid_data_registers_nothing(tracking_uri, tmp_path):
    client = MlflowClient(tracking_uri)
    path = tmp_path / "broken.csv"
    pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "label": [0, 1, 0, 1]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="column 'a'"):
        run_training(TrainingConfig(model_name="never-registered", dataset=str(path), target="label"), tracking_uri)
    with pytest.raises(MlflowException):
        client.get_registered_model("never-registered")
