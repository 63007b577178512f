import pytest
from pydantic import TypeAdapter, ValidationError

from services.serving import io

FEATURES = ("a", "b", "c")


@pytest.fixture(autouse=True)
def schema():
    io.activate_schema(FEATURES)
    yield
    io._active_features = None


adapter = TypeAdapter(io.Instances)


def test_positional_and_named_rows_normalise_to_model_order():
    rows = adapter.validate_json('[[1, 2.5, 3], {"c": 3, "a": 1, "b": 2}]')
    assert rows == [[1, 2.5, 3], [1, 2, 3]]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ("[[1, 2]]", "expected 3 feature values"),
        ('[{"a": 1, "b": 2}]', "missing feature(s) 'c'"),
        ('[{"a": 1, "b": 2, "c": 3, "d": 4}]', "unknown feature(s) 'd'"),
        ("[[1, 2, NaN]]", "finite number"),
        ("[[1, 2, Infinity]]", "finite number"),
        ('[[1, 2, "3"]]', "valid number"),
        ("[[1, 2, true]]", "valid number"),
        ("[]", "at least 1 item"),
    ],
)
def test_bad_rows_are_rejected_with_the_reason(payload, fragment):
    with pytest.raises(ValidationError) as info:
        adapter.validate_json(payload)
    assert fragment in str(info.value)


def test_oversized_batch_is_rejected():
    rows = ",".join(["[1,2,3]"] * (io.MAX_ROWS_PER_REQUEST + 1))
    with pytest.raises(ValidationError, match="at most"):
        adapter.validate_json(f"[{rows}]")


def test_rows_before_model_load_ask_to_wait_for_readiness():
    io._active_features = None
    with pytest.raises(ValidationError, match="readyz"):
        adapter.validate_json("[[1, 2, 3]]")
