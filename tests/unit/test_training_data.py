import numpy as np
import pandas as pd
import pytest

from services.training.data import DataValidationError, check_label, load_dataset, validate


def test_builtin_dataset_validates_and_records_a_real_source(tmp_path):
    data = load_dataset("breast_cancer")
    frame = validate(data)
    assert len(data.feature_names) == 30
    assert frame.shape == (569, 31)
    assert data.source.endswith("breast_cancer.csv")


def _write(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
    return str(path)


def test_file_dataset_with_nulls_inf_and_strings_lists_every_problem(tmp_path):
    frame = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, np.inf, 4.0], "c": ["x", "1", "2", "3"], "label": [0, 1, 0, 1]}
    )
    data = load_dataset(_write(tmp_path, frame, "bad.parquet"), target="label")
    with pytest.raises(DataValidationError) as info:
        validate(data)
    message = str(info.value)
    assert "nothing was trained or registered" in message
    assert "column 'a'" in message and "not_nullable" in message
    assert "column 'b'" in message and "finite" in message
    assert "column 'c'" in message


def test_negative_measurement_in_builtin_schema_names_row(tmp_path):
    data = load_dataset("breast_cancer")
    data.frame.loc[7, "mean radius"] = -1.0
    with pytest.raises(DataValidationError, match=r"column 'mean radius'.*rows 7"):
        validate(data)


def test_single_class_label_is_rejected(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": [1, 1, 1]})
    data = load_dataset(_write(tmp_path, frame), target="label")
    with pytest.raises(DataValidationError, match="needs >= 2 classes"):
        validate(data)


def test_missing_target_column_names_the_columns(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(DataValidationError, match=r"label column 'label' not found; columns are \['a', 'y'\]"):
        load_dataset(_write(tmp_path, frame), target="label")


def test_a_label_must_be_classes_each_seen_twice():

    check_label(pd.Series([0, 1, 0, 1]), "--target 'y'")
    check_label(pd.Series(["cat", "dog", "dog", "cat"]), "--target 'y'")
    check_label(pd.Series([0.0, 1.0, 1.0, 0.0]), "--target 'y'")  # classes stored as floats by a CSV reader
    with pytest.raises(DataValidationError, match=r"--target 'price' is continuous \(4 distinct values in 4 rows"):
        check_label(pd.Series([1.5, 2.25, 3.0, 4.75]), "--target 'price'")
    with pytest.raises(DataValidationError, match=r"class\(es\) 'rare' occur only once"):
        check_label(pd.Series(["a", "a", "rare", "b", "b"]), "--target 'y'")
