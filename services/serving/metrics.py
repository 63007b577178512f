"""Model-level Prometheus metrics, next to BentoML's own request metrics on /metrics.

bentoml.metrics wraps prometheus_client in multiprocess mode, so counts from every worker add up on one endpoint.
Feature values are counted per baseline decile bin: Prometheus then holds exactly what PSI drift needs.
"""

from __future__ import annotations

import bentoml
import numpy as np

from services.monitoring.drift import bin_indices
from services.serving.model_loader import LoadedModel

PREDICTIONS = bentoml.metrics.Counter(
    name="mlops_predictions_total",
    documentation="Predicted rows by model, version and predicted class",
    labelnames=["model", "version", "label"],
)
FEATURE_BIN = bentoml.metrics.Counter(
    name="mlops_feature_bin_total",
    documentation="Input values per feature and training-decile bin (for PSI drift)",
    labelnames=["model", "feature", "bin"],
)
FEATURE_OUT_OF_RANGE = bentoml.metrics.Counter(
    name="mlops_feature_out_of_range_total",
    documentation="Input values outside the training min..max per feature",
    labelnames=["model", "feature"],
)
FEATURE_SUM = bentoml.metrics.Gauge(  # a gauge, not a counter: feature values may be negative
    name="mlops_feature_value_sum",
    documentation="Sum of input values per feature (divided by the row count gives the live mean)",
    labelnames=["model", "feature"],
    multiprocess_mode="sum",
)
BASELINE_FRACTION = bentoml.metrics.Gauge(  # published so Prometheus can compute PSI without the baseline file
    name="mlops_feature_baseline_fraction",
    documentation="Share of training rows per feature and decile bin (the expected distribution for PSI)",
    labelnames=["model", "feature", "bin"],
    multiprocess_mode="max",
)
MODEL_INFO = bentoml.metrics.Gauge(
    name="mlops_model_info",
    documentation="The model this server serves (value 1)",
    labelnames=["model", "version", "run_id"],
    multiprocess_mode="max",
)


class ModelMetrics:
    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.features = model.baseline["features"] if model.baseline else {}
        MODEL_INFO.labels(model=model.name, version=model.version, run_id=model.run_id).set(1)
        for feature, stats in self.features.items():
            for index, fraction in enumerate(stats["fractions"]):
                BASELINE_FRACTION.labels(model=model.name, feature=feature, bin=str(index)).set(fraction)

    def observe(self, matrix: np.ndarray, labels: np.ndarray) -> None:
        name = self.model.name
        classes, counts = np.unique(labels, return_counts=True)
        for label, count in zip(classes, counts, strict=True):
            PREDICTIONS.labels(model=name, version=self.model.version, label=str(label)).inc(int(count))
        for column, feature in enumerate(self.model.feature_names):
            values = matrix[:, column]
            FEATURE_SUM.labels(model=name, feature=feature).inc(float(values.sum()))
            stats = self.features.get(feature)
            if stats is None:
                continue
            bins = np.bincount(bin_indices(stats["edges"], values), minlength=len(stats["edges"]) + 1)
            for index in np.flatnonzero(bins):
                FEATURE_BIN.labels(model=name, feature=feature, bin=str(index)).inc(int(bins[index]))
            outside = int(np.count_nonzero((values < stats["min"]) | (values > stats["max"])))
            if outside:
                FEATURE_OUT_OF_RANGE.labels(model=name, feature=feature).inc(outside)
