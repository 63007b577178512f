"""Drift statistics shared by training (baseline), serving (live bin counts) and the monitoring exporter (PSI).

The baseline splits each feature at its training deciles. Serving counts live values per bin, so drift is the
Population Stability Index between the baseline's (equal) bin fractions and the live ones: cheap to count in a
Prometheus counter and robust to the feature's scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

N_BINS = 10
# Bins that saw nothing would make PSI infinite; a small floor keeps it finite and still sensitive.
_EPSILON = 1e-4
# Common rule of thumb for PSI: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift. The number is restated
# where Python cannot reach (the ModelFeatureDrift alert rule) and as the rollout analysis's maxDriftPsi default;
# tests/unit/test_psi_threshold.py holds both to this one.
PSI_ALERT_THRESHOLD = 0.25


def feature_baseline(values: np.ndarray, n_bins: int = N_BINS) -> dict[str, Any]:
    """Summary statistics and decile edges of one training feature."""
    values = np.asarray(values, dtype=float)
    quantiles = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    inner_edges = np.unique(quantiles)  # low-cardinality features collapse duplicate edges
    counts = np.bincount(np.searchsorted(inner_edges, values, side="right"), minlength=len(inner_edges) + 1)
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "edges": [float(e) for e in inner_edges],
        "fractions": [float(c) / values.size for c in counts],
    }


def dataset_baseline(features: Mapping[str, np.ndarray], labels: Sequence[Any]) -> dict[str, Any]:
    labels_array = np.asarray(labels)
    classes, counts = np.unique(labels_array, return_counts=True)
    return {
        "version": 1,
        "n_bins": N_BINS,
        "features": {name: feature_baseline(column) for name, column in features.items()},
        "label_fractions": {str(c): float(n) / labels_array.size for c, n in zip(classes, counts, strict=True)},
    }


def bin_indices(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Bin of each value against the baseline's inner edges (0 .. len(edges))."""
    return np.searchsorted(np.asarray(edges, dtype=float), values, side="right")


def psi(expected_fractions: Sequence[float], actual_counts: Sequence[float]) -> float:
    """Population Stability Index of live counts against the baseline fractions; 0.0 when nothing was seen."""
    total = float(sum(actual_counts))
    if total <= 0:
        return 0.0
    if len(expected_fractions) != len(actual_counts):
        raise ValueError(f"bin count mismatch: baseline has {len(expected_fractions)}, live has {len(actual_counts)}")
    score = 0.0
    for expected, count in zip(expected_fractions, actual_counts, strict=True):
        e = max(float(expected), _EPSILON)
        a = max(count / total, _EPSILON)
        score += (a - e) * math.log(a / e)
    return score
