"""A real `bentoml serve` of a model trained into a real MLflow registry, exercised over HTTP."""

from __future__ import annotations

import httpx
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_kit.local import start_bento
from services.serving.io import MAX_ROWS_PER_REQUEST
from services.training.config import TrainingConfig
from services.training.pipeline import run_training
from tests.integration.serving_contract import (
    BAD_PAYLOADS,
    assert_bad_payload_rejected,
    assert_batch_of_named_rows_is_accurate,
    assert_single_row_prediction,
    metric_total,
)

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
    assert_single_row_prediction(client, dataset, MODEL, trained.model_version)


def test_batch_of_named_rows_matches_labels(client, dataset):
    assert_batch_of_named_rows_is_accurate(client, dataset)


def test_model_endpoint_describes_the_served_version(client, trained):
    info = client.get("/model/").json()
    assert info["name"] == MODEL
    assert info["version"] == trained.model_version
    assert info["run_id"] == trained.run_id
    assert len(info["features"]) == 30
    assert info["drift_baseline"] is True


def test_metrics_count_predictions_and_feature_bins(client, dataset):
    client.post("/predict", json={"instances": dataset.data.iloc[:10].values.tolist()})
    assert metric_total(client, "mlops_predictions_total", model=MODEL) >= 10
    assert metric_total(client, "mlops_feature_bin_total", model=MODEL, feature="mean radius") >= 10
    assert metric_total(client, "mlops_model_info", model=MODEL) == 1.0
    assert metric_total(client, "bentoml_service_request_total") >= 1


def test_health_endpoints(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(("case", "body", "fragment"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS])
def test_bad_payload_gets_400_naming_the_problem(client, case, body, fragment):
    assert_bad_payload_rejected(client, case, body, fragment)


def test_oversized_batch_gets_400(client):
    rows = [[1.0] * 30] * (MAX_ROWS_PER_REQUEST + 1)
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 400
    assert "at most" in response.text


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary", "application/x-www-form-urlencoded", ""]
)
def test_a_body_that_is_not_json_gets_415_naming_what_is_accepted(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=b'{"instances": [[1.0]]}', headers=headers)
    assert response.status_code == 415, response.text
    assert "send application/json" in response.json()["error"]


def test_a_request_the_model_cannot_take_fails_alone_not_its_batch_neighbours(client, dataset):
    """Sent at once, so adaptive batching merges them: the good rows answer 200, the huge value 400."""
    from concurrent.futures import ThreadPoolExecutor

    good = {"instances": [dataset.data.iloc[2].tolist()]}
    bad = {"instances": [[1e308, *dataset.data.iloc[2].tolist()[1:]]]}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda body: client.post("/predict", json=body).status_code, [good, bad] * 16))
    assert answers == [200, 400] * 16


def test_a_refused_request_is_one_warning_line_not_a_traceback(client, server):
    before = server.log_path.read_text(errors="replace")
    for _case, body, _ in BAD_PAYLOADS:
        client.post("/predict", content=body, headers={"content-type": "application/json"})
    logged = server.log_path.read_text(errors="replace")[len(before) :]
    assert "Traceback" not in logged, logged[-3000:]
    refusals = [line for line in logged.splitlines() if "refused:" in line]
    assert len(refusals) == len(BAD_PAYLOADS) and all("WARNING" in line for line in refusals), logged[-3000:]
    assert "input_value" not in logged, "a refused request's values do not belong in the log"


def test_server_keeps_serving_after_bad_requests(client, server, dataset):
    for _case, body, _ in BAD_PAYLOADS:
        client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert server.process.poll() is None
    response = client.post("/predict", json={"instances": [dataset.data.iloc[1].tolist()]})
    assert response.status_code == 200
