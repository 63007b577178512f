"""`make demo` as a user runs it: real MLflow and BentoML servers left running, then stopped by `demo-stop`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from mlops_kit.local import free_port

CLI = [sys.executable, "-m", "mlops_kit.cli"]


def test_demo_runs_the_loop_and_demo_stop_ends_it(tmp_path: Path):
    mlflow_port, serve_port = free_port(), free_port()
    state = tmp_path / "state"
    done = subprocess.run(
        [*CLI, "demo", "--state-dir", str(state), "--mlflow-port", str(mlflow_port), "--serve-port", str(serve_port)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "gate → champion (no champion yet)" in done.stdout
        assert "sample prediction from breast-cancer v1" in done.stdout
        # The servers outlive the command, as the README promises.
        assert httpx.get(f"http://127.0.0.1:{serve_port}/readyz", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{mlflow_port}/health", timeout=10).status_code == 200
    finally:
        stopped = subprocess.run(
            [*CLI, "demo-stop", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
        )
    assert "mlflow" in stopped.stdout and "bentoml" in stopped.stdout
    assert not list(state.glob("*.pid"))


def test_demo_refuses_a_port_taken_by_something_else(tmp_path: Path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*CLI, "demo", "--state-dir", str(tmp_path), "--mlflow-port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"port {port} is taken by something that is not MLflow; pass --mlflow-port" in done.stderr
    assert "Traceback" not in done.stderr
