"""The training pipeline: validate → split → fit → evaluate → log with lineage → register → gate vs champion → alias."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn import metrics as skm

from mlops_kit.errors import EnvironmentProblem
from services.monitoring.drift import dataset_baseline
from services.training.champion_gate import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ChampionDecision, decide
from services.training.config import TrainingConfig
from services.training.data import load_dataset, split, validate
from services.training.estimators import build_estimator, effective_params

BASELINE_FILE = "feature_baseline.json"
DEFAULT_TRACKING_URI = "http://127.0.0.1:5050"  # where `make demo` starts it (5000 is the image registry)

StepReporter = Callable[[str], None]


class TrainingError(EnvironmentProblem):
    """A failure the user can act on (tracking server unreachable, ...); the message says what to do."""


@dataclass
class TrainingResult:
    run_id: str
    model_name: str
    model_version: str
    metrics: dict[str, float]
    decision: ChampionDecision
    dataset_digest: str
    dataset_source: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}/{self.model_version}"


def evaluate(model: Any, features: pd.DataFrame, labels: pd.Series) -> dict[str, float]:
    predicted = model.predict(features)
    binary = labels.nunique() <= 2
    average = "binary" if binary else "macro"
    scores = {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted, average=average, zero_division=0),
        "recall": skm.recall_score(labels, predicted, average=average, zero_division=0),
        "f1": skm.f1_score(labels, predicted, average=average, zero_division=0),
    }
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(features)
        scores["roc_auc"] = (
            skm.roc_auc_score(labels, proba[:, 1]) if binary else skm.roc_auc_score(labels, proba, multi_class="ovr")
        )
    return {k: float(v) for k, v in scores.items()}


def _tracking_uri(explicit: str | None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def check_tracking_server(uri: str) -> None:
    """Fail in a second with advice instead of MLflow's long retry loop and traceback."""
    if not uri.startswith(("http://", "https://")):
        return
    import httpx

    try:
        httpx.get(uri.rstrip("/") + "/health", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise TrainingError(
            f"MLflow tracking server {uri} is not reachable ({exc.__class__.__name__}: {exc}). "
            "Start one with `make demo` (it serves on 127.0.0.1:5050), or set MLFLOW_TRACKING_URI / --tracking-uri."
        ) from None


def _score_champion(client: Any, model_name: str, metric: str, features: pd.DataFrame, labels: pd.Series):
    """Return (version, score, error) of the current champion on the candidate's held-out data."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION).version
    except MlflowException:
        return None, None, None  # no registered model or no champion alias yet
    try:
        champion = mlflow.sklearn.load_model(f"models:/{model_name}@{CHAMPION}")
        return str(version), evaluate(champion, features, labels)[metric], None
    except Exception as exc:  # a champion of another schema/flavour cannot be compared; the gate keeps it
        return str(version), None, f"{exc.__class__.__name__}: {str(exc)[:200]}"


def _serving_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{dist}=={version(dist)}" for dist in ("scikit-learn", "numpy", "pandas", "scipy", "skops")]


def _types_to_trust(model: Any) -> list[str]:
    """This process built the model, so the types skops cannot vouch for (e.g. tree node storage) are ours to trust.
    Recording them in the MLmodel lets loaders (gate, serving) open the model without trusting arbitrary files."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def run_training(
    config: TrainingConfig, tracking_uri: str | None = None, report: StepReporter = lambda _: None
) -> TrainingResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - started, 3)
        report(name)

    step("loading and validating data")
    dataset = load_dataset(config.dataset, config.target)
    frame = validate(dataset)  # raises DataValidationError before any run or model exists

    uri = _tracking_uri(tracking_uri)
    check_tracking_server(uri)

    import logging
    import warnings

    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    # Known-harmless chatter: our sources are plain local files; integer labels never hold missing values;
    # pip is absent from uv-made venvs and the requirements are given explicitly anyway.
    warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted", category=UserWarning)
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)

    features, labels = frame[dataset.feature_names], frame[dataset.target]
    x_train, x_test, y_train, y_test = split(features, labels, config.test_size, config.seed)

    step("training")
    model = build_estimator(config.estimator, config.params, config.seed)
    model.fit(x_train, y_train)

    step("evaluating")
    scores = evaluate(model, x_test, y_test)
    if config.gate_metric.value not in scores:
        raise TrainingError(f"gate metric {config.gate_metric.value!r} is not available for {config.estimator.value}")
    champion_version, champion_score, champion_error = _score_champion(
        client, config.model_name, config.gate_metric.value, x_test, y_test
    )
    decision = decide(
        config.gate_metric.value,
        scores[config.gate_metric.value],
        champion_score,
        config.gate_margin,
        champion_version,
        champion_error,
    )

    step("logging to MLflow")
    mlflow.set_experiment(config.experiment)
    train_ds = mlflow.data.from_pandas(
        pd.concat([x_train, y_train], axis=1),
        source=dataset.source,
        targets=dataset.target,
        name=f"{dataset.name}-train",
    )
    eval_ds = mlflow.data.from_pandas(
        pd.concat([x_test, y_test], axis=1), source=dataset.source, targets=dataset.target, name=f"{dataset.name}-eval"
    )
    full_ds = mlflow.data.from_pandas(frame, source=dataset.source, targets=dataset.target, name=dataset.name)
    baseline = dataset_baseline({c: x_train[c].to_numpy() for c in x_train.columns}, y_train.to_numpy())

    with (
        mlflow.start_run(run_name=f"{config.model_name}-{config.estimator.value}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_input(train_ds, context="training")
        mlflow.log_input(eval_ds, context="evaluation")
        mlflow.log_params({"estimator": config.estimator.value, "test_size": config.test_size, "seed": config.seed})
        mlflow.log_params(effective_params(config.estimator, config.params, config.seed))
        mlflow.log_metrics(scores)
        if champion_score is not None:
            mlflow.log_metric(f"champion_{config.gate_metric.value}", champion_score)
        lineage = {
            "dataset.name": dataset.name,
            "dataset.source": dataset.source,
            "dataset.digest": full_ds.digest,
            "dataset.rows": str(len(frame)),
            "dataset.features": str(len(dataset.feature_names)),
        }
        mlflow.set_tags(lineage)
        baseline_path = Path(tmp) / BASELINE_FILE
        baseline_path.write_text(json.dumps(baseline, indent=1))
        mlflow.log_artifact(str(baseline_path), artifact_path="baseline")

        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x_train, model.predict(x_train)),
            input_example=x_train.head(2),
            registered_model_name=config.model_name,
            extra_files=[str(baseline_path)],  # the model carries its own drift baseline into the serving image
            # Explicit requirements: MLflow's inference re-imports the model in a subprocess (~10 s) to find the same list.
            pip_requirements=_serving_requirements(),
            skops_trusted_types=_types_to_trust(model),
        )
        version = str(info.registered_model_version)

        step("gating against the champion")
        mlflow.set_tags(decision.as_tags())
        for key, value in {**decision.as_tags(), **lineage}.items():
            client.set_model_version_tag(config.model_name, version, key, value)
        if decision.alias == CHAMPION:
            if champion_version is not None:
                client.set_registered_model_alias(config.model_name, PREVIOUS_CHAMPION, champion_version)
            client.set_registered_model_alias(config.model_name, CHAMPION, version)
        else:
            client.set_registered_model_alias(config.model_name, CHALLENGER, version)

    step("done")
    return TrainingResult(
        run_id=run.info.run_id,
        model_name=config.model_name,
        model_version=version,
        metrics=scores,
        decision=decision,
        dataset_digest=full_ds.digest,
        dataset_source=dataset.source,
        timings=timings,
    )
