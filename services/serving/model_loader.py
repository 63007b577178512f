"""Resolve and load the served model: from the registry by alias/version, or from a local MLflow model directory
(what the serving image carries). The loaded model knows its name, version, features and drift baseline."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BASELINE_RELATIVE_PATH = Path("extra_files") / "feature_baseline.json"


class ModelLoadError(RuntimeError):
    """The model cannot be served; the message says which URI and what to check."""


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    uri: str
    run_id: str
    estimator: Any  # a fitted scikit-learn estimator (native flavour: no pyfunc/DataFrame overhead per call)
    feature_names: tuple[str, ...]
    classes: tuple[Any, ...]
    baseline: dict[str, Any] | None

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "run_id": self.run_id,
            "features": list(self.feature_names),
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes],
            "drift_baseline": self.baseline is not None,
        }


def _download(model_uri: str, tracking_uri: str | None) -> Path:
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    destination = Path(tempfile.mkdtemp(prefix="mlops-kit-model-"))
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(destination)))
    except Exception as exc:
        raise ModelLoadError(
            f"cannot fetch {model_uri} from tracking server {mlflow.get_tracking_uri()}: {exc}. "
            "Check MODEL_URI / MLFLOW_TRACKING_URI and that the alias exists (mlops-kit train sets 'champion')."
        ) from None


def load_model(model_uri: str, tracking_uri: str | None = None, fallback_name: str = "model") -> LoadedModel:
    """Load `models:/name@alias`, `models:/name/version`, `runs:/...` or a local MLflow model directory."""
    import mlflow.sklearn
    from mlflow.models import Model

    local = Path(model_uri)
    directory = local if local.is_dir() else _download(model_uri, tracking_uri)
    if not (directory / "MLmodel").is_file():
        raise ModelLoadError(f"{model_uri}: no MLmodel file in {directory}; is this an MLflow model?")

    meta_file = directory / "registered_model_meta"
    meta = yaml.safe_load(meta_file.read_text()) if meta_file.is_file() else {}
    mlmodel = Model.load(str(directory))
    if "sklearn" not in mlmodel.flavors:
        raise ModelLoadError(f"{model_uri}: flavours {sorted(mlmodel.flavors)}; the serving service needs 'sklearn'")
    if mlmodel.signature is None:
        raise ModelLoadError(f"{model_uri}: the model has no signature, so inputs cannot be validated")

    estimator = mlflow.sklearn.load_model(str(directory))
    baseline_file = directory / BASELINE_RELATIVE_PATH
    return LoadedModel(
        name=str(meta.get("model_name") or os.environ.get("MODEL_NAME") or fallback_name),
        version=str(meta.get("model_version") or os.environ.get("MODEL_VERSION") or "unknown"),
        uri=model_uri,
        run_id=str(mlmodel.run_id or ""),
        estimator=estimator,
        feature_names=tuple(mlmodel.signature.inputs.input_names()),
        classes=tuple(getattr(estimator, "classes_", ())),
        baseline=json.loads(baseline_file.read_text()) if baseline_file.is_file() else None,
    )
