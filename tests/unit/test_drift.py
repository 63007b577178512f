import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.monitoring.drift import PSI_ALERT_THRESHOLD, bin_indices, dataset_baseline, feature_baseline, psi


def test_baseline_bins_split_training_data_evenly():
    values = np.arange(1000, dtype=float)
    stats = feature_baseline(values)
    assert len(stats["edges"]) == 9
    assert stats["fractions"] == pytest.approx([0.1] * 10, abs=0.002)
    assert stats["min"] == 0 and stats["max"] == 999


def test_constant_feature_collapses_edges():
    stats = feature_baseline(np.ones(50))
    assert stats["edges"] == [1.0]
    assert sum(stats["fractions"]) == pytest.approx(1.0)


def test_same_distribution_has_low_psi_and_shifted_has_high():
    rng = np.random.default_rng(0)
    stats = feature_baseline(rng.normal(0, 1, 5000))
    same = np.bincount(bin_indices(stats["edges"], rng.normal(0, 1, 5000)), minlength=10)
    shifted = np.bincount(bin_indices(stats["edges"], rng.normal(1.5, 1, 5000)), minlength=10)
    assert psi(stats["fractions"], same) < 0.05
    assert psi(stats["fractions"], shifted) > PSI_ALERT_THRESHOLD


def test_psi_of_nothing_seen_is_zero():
    assert psi([0.5, 0.5], [0, 0]) == 0.0


def test_psi_rejects_mismatched_bins():
    with pytest.raises(ValueError, match="bin count mismatch"):
        psi([0.5, 0.5], [1, 2, 3])


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=200))
def test_psi_is_never_negative(values):
    stats = feature_baseline(np.asarray(values))
    counts = np.bincount(bin_indices(stats["edges"], np.asarray(values)[::-1]), minlength=len(stats["fractions"]))
    assert psi(stats["fractions"], counts) >= 0.0


def test_dataset_baseline_records_label_fractions():
    baseline = dataset_baseline({"a": np.arange(10.0)}, [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    assert baseline["label_fractions"] == {"0": 0.3, "1": 0.7}
    assert set(baseline["features"]) == {"a"}
