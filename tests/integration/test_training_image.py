"""The retraining image trains and registers a model against a real MLflow server, locked down as in the cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def training_image(docker) -> str:
    built = subprocess.run(
        ["bash", str(ROOT / "images/build.sh"), "training"], capture_output=True, text=True, timeout=1800
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return built.stdout.strip().splitlines()[-1]


def run(docker: str, image: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [docker, "run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
         "--security-opt", "no-new-privileges", image, *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_training_image_registers_a_gated_model(docker, training_image, tracking_uri):
    done = run(docker, training_image, "train", "--model-name", "from-image", "--json", "--tracking-uri", tracking_uri)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # stdout is the JSON alone (MLflow's progress lines go to stderr)
    assert result["alias"] == "champion"
    version = MlflowClient(tracking_uri).get_model_version_by_alias("from-image", "champion")
    assert version.version == result["model_version"]


def test_training_image_runs_as_non_root(docker, training_image):
    done = subprocess.run(
        [docker, "run", "--rm", "--entrypoint", "id", training_image, "-u"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "10001"


def test_training_image_reports_bad_arguments_without_traceback(docker, training_image):
    done = run(docker, training_image, "train", "--gate-metric", "mse")
    assert done.returncode == 2
    assert "--gate-metric: Input should be" in done.stderr and "Traceback" not in done.stderr
