"""Datasets: load (built-in or file), validate with pandera before anything is trained, describe for lineage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlops_kit.errors import UserError

MAX_LISTED_ROWS = 5


class DataValidationError(UserError):
    """The dataset broke its schema; the message lists the offending columns and rows."""


@dataclass(frozen=True)
class LoadedDataset:
    name: str
    source: str  # where it came from, recorded as lineage
    frame: pd.DataFrame  # features + target column
    target: str
    schema: pa.DataFrameSchema

    @property
    def feature_names(self) -> list[str]:
        return [c for c in self.frame.columns if c != self.target]


def _builtin(name: str) -> tuple[pd.DataFrame, str, dict[str, float]]:
    """Return (frame, source, lower bounds) of a dataset shipped with scikit-learn, so training works offline."""
    from sklearn import datasets

    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.frame
        # Every breast-cancer measurement is a size, texture or ratio: negative values mean a broken pipeline upstream.
        return frame, _sklearn_data_file("breast_cancer.csv"), {c: 0.0 for c in frame.columns if c != "target"}
    if name == "wine_binary":
        bunch = datasets.load_wine(as_frame=True)
        frame = bunch.frame
        frame["target"] = (frame["target"] == 0).astype(int)
        return frame, _sklearn_data_file("wine_data.csv"), {c: 0.0 for c in frame.columns if c != "target"}
    raise ValueError(f"unknown built-in dataset {name!r}")


def _sklearn_data_file(filename: str) -> str:
    """The CSV inside the installed scikit-learn that the built-in dataset is read from: a real, local lineage source."""
    from importlib.resources import files

    return str(files("sklearn.datasets.data").joinpath(filename))


def build_schema(frame: pd.DataFrame, target: str, lower_bounds: dict[str, float] | None = None) -> pa.DataFrameSchema:
    """Schema every training frame must satisfy: numeric finite features, no nulls, a label with at least two classes."""
    lower_bounds = lower_bounds or {}
    columns: dict[str, pa.Column] = {}
    for name in frame.columns:
        if name == target:
            continue
        checks = [pa.Check(lambda s: np.isfinite(s), element_wise=False, error="finite (no inf)")]
        if name in lower_bounds:
            checks.append(pa.Check.ge(lower_bounds[name]))
        columns[name] = pa.Column(float, checks=checks, nullable=False, coerce=True)
    columns[target] = pa.Column(nullable=False)
    return pa.DataFrameSchema(
        columns,
        strict=True,
        checks=[pa.Check(lambda df: df[target].nunique() >= 2, error=f"label column {target!r} needs >= 2 classes")],
    )


def load_dataset(dataset: str, target: str = "target") -> LoadedDataset:
    if not dataset.endswith((".csv", ".parquet")):
        frame, source, bounds = _builtin(dataset)
        return LoadedDataset(dataset, source, frame, "target", build_schema(frame, "target", bounds))
    path = Path(dataset)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if target not in frame.columns:
        raise DataValidationError(
            f"{path}: label column {target!r} not found; columns are {list(frame.columns)} (choose one with --target)"
        )
    check_label(frame[target], f"{path}: --target {target!r}")
    return LoadedDataset(path.stem, str(path.resolve()), frame, target, build_schema(frame, target))


def check_label(labels: pd.Series, where: str) -> None:
    """The pipeline trains classifiers on a stratified split: a label of classes, each at least twice (one in the
    training part, one held out). A continuous column (prices, scores) is refused before anything is logged."""
    values = labels.dropna()
    if pd.api.types.is_float_dtype(values) and not np.all(np.mod(values, 1) == 0):
        raise DataValidationError(
            f"{where} is continuous ({values.nunique()} distinct values in {len(values)} rows, e.g. "
            f"{values.iloc[0]:g}): the kit trains classifiers, so the label must be classes (0/1, names); "
            "bin it into classes, or choose the class column with --target"
        )
    counts = values.value_counts()
    rare = counts[counts < 2]
    if len(rare):
        shown = ", ".join(repr(v) for v in rare.index[:5]) + (f" … ({len(rare)} in all)" if len(rare) > 5 else "")
        raise DataValidationError(
            f"{where}: class(es) {shown} occur only once; each class needs at least 2 rows (one to train on, one "
            "held out). Collect more rows or merge rare classes"
        )


def validate(data: LoadedDataset) -> pd.DataFrame:
    """Validate every check at once (lazy) so the user sees all problems in one go, then return the coerced frame."""
    try:
        return data.schema.validate(data.frame, lazy=True)
    except SchemaErrors as errors:
        raise DataValidationError(describe_failures(data.name, errors.failure_cases)) from None


def describe_failures(name: str, failures: pd.DataFrame) -> str:
    lines = [f"dataset {name!r} failed validation ({len(failures)} problem(s)); nothing was trained or registered:"]
    failures = failures.copy()
    failures["column"] = failures["column"].fillna("<table>")
    for (column, check), group in failures.groupby(["column", "check"], sort=True, dropna=False):
        rows = [str(i) for i in group["index"].dropna().unique()[:MAX_LISTED_ROWS]]
        values = [repr(v) for v in group["failure_case"].head(MAX_LISTED_ROWS)]
        more = f" (+{len(group) - MAX_LISTED_ROWS} more)" if len(group) > MAX_LISTED_ROWS else ""
        where = f" rows {', '.join(rows)}" if rows else ""
        lines.append(f"  - column {column!r}: check {check!r} failed{where}: values {', '.join(values)}{more}")
    return "\n".join(lines)


def split(features: pd.DataFrame, labels: pd.Series, test_size: float, seed: int):
    """(x_train, x_test, y_train, y_test): stratified, reproducible. The held-out part is what the champion gate scores
    on, and what the rollout analysis sends to a preview Service as synthetic traffic."""
    from sklearn.model_selection import train_test_split

    return train_test_split(features, labels, test_size=test_size, random_state=seed, stratify=labels)
