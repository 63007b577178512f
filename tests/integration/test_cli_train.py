"""`mlops-kit train` as a user runs it (the installed entry point, a real MLflow server): `--json` prints JSON alone
on stdout, and a dataset the pipeline cannot train on is a one-line refusal naming the option, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).with_name("mlops-kit"))


def _train(tracking_uri: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "train", "--tracking-uri", tracking_uri, *args], capture_output=True, text=True, timeout=600
    )


def test_json_output_is_only_json(tracking_uri):
    done = _train(tracking_uri, "--model-name", "cli-json", "--estimator", "dummy", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["model_name"] == "cli-json" and result["alias"] == "champion"


def test_a_continuous_target_is_refused_naming_the_option(tracking_uri, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    frame["price"] = frame @ [1.0, 2.0, 3.0] + rng.normal(size=200)
    path = tmp_path / "prices.csv"
    frame.to_csv(path, index=False)
    done = _train(tracking_uri, "--model-name", "cli-prices", "--dataset", str(path), "--target", "price")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "--target 'price'" in done.stderr, done.stderr
