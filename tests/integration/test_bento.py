"""bentos/breast-cancer/bentofile.yaml is the model's serving definition, and it works: `bentoml build` turns it into a
bento with no package index reachable (the requirements are the serving lock, used as they are), and the built bento,
served from its own copy of the sources, answers the serving contract for a local MLflow model directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import mlflow
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from mlops_kit.local import BIN, start_bento
from mlops_kit.paths import REPO_ROOT
from services.training.config import TrainingConfig
from services.training.pipeline import run_training
from tests.integration.serving_contract import assert_batch_of_named_rows_is_accurate, assert_single_row_prediction

pytestmark = pytest.mark.integration

BENTOFILE = REPO_ROOT / "bentos" / "breast-cancer" / "bentofile.yaml"
MODEL = "bento-built"


@pytest.fixture(scope="module")
def bento_home(tmp_path_factory):
    """A bento store of the test's own (`bentoml build` and `bentoml serve` read BENTOML_HOME)."""
    home = tmp_path_factory.mktemp("bentoml-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENTOML_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def built(bento_home) -> str:
    """The bento's tag. Built in a network namespace of its own (only loopback): a build that needs PyPI fails."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to build without a network"
    cmd = [unshare, "-n", str(BIN / "bentoml"), "build", "-f", str(BENTOFILE), "-o", "tag", str(REPO_ROOT)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, f"bentoml build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (tag,) = [line.removeprefix("__tag__:") for line in done.stdout.splitlines() if line.startswith("__tag__:")]
    return tag


@pytest.fixture(scope="module")
def model_dir(tracking_uri, tmp_path_factory):
    trained = run_training(TrainingConfig(model_name=MODEL), tracking_uri)
    directory = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{MODEL}@champion",
        dst_path=str(tmp_path_factory.mktemp("model")),
        tracking_uri=tracking_uri,
    )
    return directory, trained.model_version


@pytest.fixture(scope="module")
def client(built, model_dir, tmp_path_factory):
    directory, _ = model_dir
    # No tracking server: the bento serves the directory alone, as the serving image does with /opt/model.
    server = start_bento(directory, None, tmp_path_factory.mktemp("bento") / "serve.log", bento=built)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
    server.stop()


def _pins(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#")}


def test_the_bento_carries_the_service_and_its_locked_requirements(built, bento_home):
    name, version = built.split(":")
    bento = bento_home / "bentos" / name / version
    assert yaml.safe_load((bento / "bento.yaml").read_text())["service"] == "services.serving.service:ModelServer"
    locked = _pins(REPO_ROOT / "services" / "serving" / "requirements.txt")
    assert _pins(bento / "env" / "python" / "requirements.txt") == locked, "the serving lock, not re-resolved"


def test_the_built_bento_serves_a_model_directory(client, model_dir):
    dataset = load_breast_cancer(as_frame=True)
    directory, version = model_dir
    assert client.get("/model/").json()["uri"] == directory, "MODEL_URI of the caller, not the bentofile's default"
    assert_single_row_prediction(client, dataset, MODEL, version)
    assert_batch_of_named_rows_is_accurate(client, dataset)
