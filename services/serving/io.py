"""Request validation for the prediction API.

Types, finiteness and batch size are checked by pydantic (BentoML turns its errors into 400 responses naming the field).
The feature layout depends on the model loaded at start-up, so the row check reads the active schema set by the service;
it runs per request, before adaptive batching merges requests, so one bad request never fails its neighbours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_ROWS_PER_REQUEST = int(os.environ.get("MLOPS_MAX_ROWS_PER_REQUEST", "1000"))
# A finite value can still overflow inside the model (1e308 scaled by a StandardScaler is inf, which scikit-learn
# refuses with an exception), and the exception would fail every request of the adaptive batch. No real feature is
# near 1e12 in magnitude, so that bound keeps every request that reaches the model predictable; it is checked by
# pydantic while the request is parsed, alone, before batching.
MAX_ABS_VALUE = float(os.environ.get("MLOPS_MAX_ABS_VALUE", "1e12"))
# strict: "1.5" or true are not numbers; allow_inf_nan=False: NaN/Infinity (which Python's JSON parser accepts) are rejected.
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]

_active_features: tuple[str, ...] | None = None


def activate_schema(feature_names: Sequence[str]) -> None:
    """Called once the model is loaded; from then on rows are checked against its features."""
    global _active_features
    _active_features = tuple(feature_names)


def _describe(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def check_row(row: list[float] | dict[str, float]) -> list[float]:
    """Return the row as values in the model's feature order, or raise naming what is wrong."""
    names = _active_features
    if names is None:
        raise ValueError("the model is not loaded yet; retry when /readyz answers 200")
    if isinstance(row, list):
        if len(row) != len(names):
            raise ValueError(
                f"expected {len(names)} feature values in the model's order ({_describe(names)}), got {len(row)}"
            )
        return row
    unknown = sorted(set(row) - set(names))
    missing = [n for n in names if n not in row]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown feature(s) {_describe(unknown)}")
        if missing:
            parts.append(f"missing feature(s) {_describe(missing)}")
        raise ValueError("; ".join(parts) + f"; valid features: {_describe(names)}")
    return [row[n] for n in names]


Row = Annotated[list[FiniteNumber] | dict[str, FiniteNumber], AfterValidator(check_row)]
Instances = Annotated[list[Row], Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST)]
