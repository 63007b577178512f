"""The estimator registry: the names a config may use → scikit-learn pipelines, with hyper-parameters checked before any
work starts. The config imports the names from here (never the reverse), so adding an estimator is one entry below."""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


class Estimator(StrEnum):
    logistic_regression = "logistic_regression"
    random_forest = "random_forest"
    gradient_boosting = "gradient_boosting"
    dummy = "dummy"  # a deliberately weak baseline; useful to see the champion gate refuse a model


_REGISTRY: dict[Estimator, tuple[type[BaseEstimator], dict[str, Any]]] = {
    Estimator.logistic_regression: (LogisticRegression, {"max_iter": 2000, "C": 1.0}),
    Estimator.random_forest: (RandomForestClassifier, {"n_estimators": 200, "n_jobs": 1}),
    Estimator.gradient_boosting: (HistGradientBoostingClassifier, {"max_iter": 200}),
    Estimator.dummy: (DummyClassifier, {"strategy": "prior"}),
}


def check_params(estimator: Estimator, params: dict[str, Any]) -> None:
    """Reject hyper-parameters the estimator does not take, naming the valid ones."""
    cls, _ = _REGISTRY[estimator]
    valid = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {unknown} for estimator {estimator.value!r}; valid: {sorted(valid)}"
        )


def build_estimator(estimator: Estimator, params: dict[str, Any], seed: int) -> Pipeline:
    cls, defaults = _REGISTRY[estimator]
    merged = {**defaults, **params}
    if "random_state" in inspect.signature(cls.__init__).parameters:
        merged.setdefault("random_state", seed)
    # Scaling is part of the model so serving gets raw features and the pipeline does the rest.
    return Pipeline([("scale", StandardScaler()), ("model", cls(**merged))])


def effective_params(estimator: Estimator, params: dict[str, Any], seed: int) -> dict[str, Any]:
    pipeline = build_estimator(estimator, params, seed)
    return {f"model.{k}": v for k, v in pipeline.named_steps["model"].get_params().items()}
