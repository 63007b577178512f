"""Typed training configuration: what to train, on what data, and how the champion gate decides."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.training.estimators import Estimator, check_params

BUILTIN_DATASETS = ("breast_cancer", "wine_binary")


class GateMetric(StrEnum):
    accuracy = "accuracy"
    precision = "precision"
    recall = "recall"
    f1 = "f1"
    roc_auc = "roc_auc"


class TrainingConfig(BaseModel):
    """Everything `mlops-kit train` can be told. Unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field("breast-cancer", description="Registered model name in the MLflow registry.")
    dataset: str = Field(
        "breast_cancer",
        description=f"A built-in dataset ({', '.join(BUILTIN_DATASETS)}) or a path to a .csv or .parquet file.",
    )
    target: str = Field("target", description="Name of the label column (for files).")
    estimator: Estimator = Estimator.logistic_regression
    params: dict[str, Any] = Field(default_factory=dict, description="Hyper-parameters passed to the estimator.")
    test_size: float = Field(0.25, gt=0.0, lt=1.0)
    seed: int = Field(42, ge=0)
    gate_metric: GateMetric = GateMetric.roc_auc
    gate_margin: float = Field(0.0, ge=0.0, le=1.0, description="How much the candidate must beat the champion by.")
    experiment: str = Field("mlops-kit", min_length=1)

    @field_validator("model_name")
    @classmethod
    def _registry_safe_name(cls, value: str) -> str:
        # Names travel into Kubernetes object names and image tags later, so keep them DNS-label friendly.
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
            raise ValueError(
                f"{value!r} is not a valid model name: use lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (max 63 characters)"
            )
        return value

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value in BUILTIN_DATASETS:
            return value
        path = Path(value)
        if path.suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(
                f"{value!r} is neither a built-in dataset ({', '.join(BUILTIN_DATASETS)}) nor a .csv/.parquet path"
            )
        if not path.is_file():
            raise ValueError(f"dataset file {value!r} does not exist")
        return value

    @model_validator(mode="after")
    def _params_fit_estimator(self) -> TrainingConfig:
        check_params(self.estimator, self.params)
        return self
