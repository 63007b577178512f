"""The serving API's contract, checked the same way against every way the service runs (`bentoml serve` on the host,
the serving container): one definition of what a client may rely on."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

# (case, raw body, fragment the 400 answer must contain)
BAD_PAYLOADS = [
    ("malformed JSON", b'{"instances": [[1,', "Invalid JSON"),
    ("wrong feature count", b'{"instances": [[1.0, 2.0]]}', "expected 30 feature values"),
    ("NaN", b'{"instances": [[NaN' + b", 1.0" * 29 + b"]]}", "finite number"),
    ("infinity", b'{"instances": [[Infinity' + b", 1.0" * 29 + b"]]}", "finite number"),
    ("string value", b'{"instances": [["1.0"' + b", 1.0" * 29 + b"]]}", "valid number"),
    ("huge finite value", b'{"instances": [[1e308' + b", 1.0" * 29 + b"]]}", "less than or equal to 1000000000000"),
    ("empty batch", b'{"instances": []}', "at least 1 item"),
    ("unknown feature", b'{"instances": [{"radius": 1.0}]}', "unknown feature(s) 'radius'"),
    ("missing field", b'{"rows": [[1.0]]}', "instances"),
]


def assert_single_row_prediction(client: httpx.Client, dataset, model: str, version: str) -> None:
    response = client.post("/predict", json={"instances": [dataset.data.iloc[0].tolist()]})
    assert response.status_code == 200, response.text
    [prediction] = response.json()
    assert prediction["label"] == int(dataset.target.iloc[0])
    assert 0.5 <= prediction["probability"] <= 1.0
    assert response.headers["x-model-name"] == model
    assert response.headers["x-model-version"] == version


def assert_batch_of_named_rows_is_accurate(client: httpx.Client, dataset, rows: int = 64) -> None:
    response = client.post("/predict", json={"instances": dataset.data.iloc[:rows].to_dict(orient="records")})
    assert response.status_code == 200, response.text
    labels = [p["label"] for p in response.json()]
    accuracy = sum(int(a == b) for a, b in zip(labels, dataset.target.iloc[:rows], strict=True)) / rows
    assert accuracy > 0.9


def metric_total(client: httpx.Client, metric: str, **labels: str) -> float:
    samples = [s for family in text_string_to_metric_families(client.get("/metrics").text) for s in family.samples]
    return sum(s.value for s in samples if s.name == metric and labels.items() <= s.labels.items())


def assert_bad_payload_rejected(client: httpx.Client, case: str, body: bytes, fragment: str) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, f"{case}: {response.status_code} {response.text}"
    assert fragment in response.text, f"{case}: {response.text}"
