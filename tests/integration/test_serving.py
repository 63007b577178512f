"""A real `bentoml serve` of a model trained into a real MLflow registry, exercised over HTTP."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_breast_cancer

from mlops_kit.local import start_bento
from services.serving.io import MAX_ROWS_PER_REQUEST
from services.training.config import TrainingConfig
from services.training.pipeline import run_training

pytestmark = pytest.mark.integration

MODEL = "served"


@pytest.fixture(scope="module")
def trained(tracking_uri):
    return run_training(TrainingConfig(model_name=MODEL), tracking_uri)


@pytest.fixture(scope="module")
def server(trained, tracking_uri, tmp_path_factory):
    bento = start_bento(f"models:/{MODEL}@champion", tracking_uri, tmp_path_factory.mktemp("bento") / "serve.log")
    yield bento
    bento.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def dataset():
    return load_breast_cancer(as_frame=True)


def test_single_row_prediction_reports_model_version(client, dataset, trained):
    row = dataset.data.iloc[0].tolist()
    response = client.post("/predict", json={"instances": [row]})
    assert response.status_code == 200, response.text
    [prediction] = response.json()
    assert prediction["label"] == int(dataset.target.iloc[0])
    assert 0.5 <= prediction["probability"] <= 1.0
    assert response.headers["x-model-name"] == MODEL
    assert response.headers["x-model-version"] == trained.model_version


def test_batch_of_named_rows_matches_labels(client, dataset):
    rows = dataset.data.iloc[:64].to_dict(orient="records")
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    labels = [p["label"] for p in response.json()]
    accuracy = sum(int(a == b) for a, b in zip(labels, dataset.target.iloc[:64], strict=True)) / 64
    assert accuracy > 0.9


def test_model_endpoint_describes_the_served_version(client, trained):
    info = client.get("/model/").json()
    assert info["name"] == MODEL
    assert info["version"] == trained.model_version
    assert info["run_id"] == trained.run_id
    assert len(info["features"]) == 30
    assert info["drift_baseline"] is True


def test_metrics_count_predictions_and_feature_bins(client, dataset):
    client.post("/predict", json={"instances": dataset.data.iloc[:10].values.tolist()})
    text = client.get("/metrics").text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]

    def total(metric: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == metric and labels.items() <= s.labels.items())

    assert total("mlops_predictions_total", model=MODEL) >= 10
    assert total("mlops_feature_bin_total", model=MODEL, feature="mean radius") >= 10
    assert total("mlops_model_info", model=MODEL) == 1.0
    assert "bentoml_service_request_total" in text


def test_health_endpoints(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


BAD_PAYLOADS = [
    ("malformed JSON", b'{"instances": [[1,', "Invalid JSON"),
    ("wrong feature count", b'{"instances": [[1.0, 2.0]]}', "expected 30 feature values"),
    ("NaN", b'{"instances": [[NaN' + b", 1.0" * 29 + b"]]}", "finite number"),
    ("infinity", b'{"instances": [[Infinity' + b", 1.0" * 29 + b"]]}", "finite number"),
    ("string value", b'{"instances": [["1.0"' + b", 1.0" * 29 + b"]]}", "valid number"),
    ("empty batch", b'{"instances": []}', "at least 1 item"),
    ("unknown feature", b'{"instances": [{"radius": 1.0}]}', "unknown feature(s) 'radius'"),
    ("missing field", b'{"rows": [[1.0]]}', "instances"),
]


@pytest.mark.parametrize(("case", "body", "fragment"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS])
def test_bad_payload_gets_400_naming_the_problem(client, case, body, fragment):
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, f"{case}: {response.status_code} {response.text}"
    assert fragment in response.text, f"{case}: {response.text}"


def test_oversized_batch_gets_400(client):
    rows = [[1.0] * 30] * (MAX_ROWS_PER_REQUEST + 1)
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 400
    assert "at most" in response.text


def test_server_keeps_serving_after_bad_requests(client, server, dataset):
    for _case, body, _ in BAD_PAYLOADS:
        client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert server.process.poll() is None
    response = client.post("/predict", json={"instances": [dataset.data.iloc[1].tolist()]})
    assert response.status_code == 200
