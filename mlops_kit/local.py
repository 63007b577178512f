"""Local processes the ML loop needs (MLflow tracking server, BentoML server): start, wait until healthy, stop.

Shared by `mlops-kit demo`, the integration tests and bench/serving.py, so all three start them the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops_kit.errors import EnvironmentProblem
from mlops_kit.waiting import GaveUp, http_ok, wait_until

BIN = Path(sys.executable).parent


class ProcessStartError(EnvironmentProblem):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self, grace_seconds: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        # Each server runs in its own process group: stop the workers it forked too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


def _spawn(
    name: str, cmd: list[str], url: str, health: str, log_path: Path, env: dict[str, str], timeout: float
) -> LocalServer:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("ab")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = LocalServer(name, url, process, log_path)
    try:
        wait_until(http_ok(url + health), timeout=timeout, alive=lambda: process.poll() is None)
    except GaveUp:
        if process.poll() is not None:
            raise ProcessStartError(
                f"{name} exited with code {process.returncode}; log {log_path}:\n{server.log_tail()}"
            ) from None
        server.stop()
        raise ProcessStartError(
            f"{name} did not answer {url}{health} within {timeout:.0f} s; log {log_path}:\n{server.log_tail()}"
        ) from None
    return server


def start_mlflow(state_dir: Path, port: int | None = None, timeout: float = 120.0) -> LocalServer:
    """MLflow with a sqlite backend and artifacts served through the server (clients need no storage access)."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = dict(os.environ)
    # Without this the server forks a job-execution pool: 9 processes and ~1.7 GB instead of 2 and ~500 MB.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    cmd = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{state_dir / 'mlflow.db'}",
        "--artifacts-destination", str(state_dir / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    return _spawn("mlflow server", cmd, f"http://127.0.0.1:{port}", "/health", state_dir / "mlflow.log", env, timeout)


def start_bento(
    model_uri: str,
    tracking_uri: str | None,
    log_path: Path,
    port: int | None = None,
    workers: int = 1,
    timeout: float = 120.0,
    bento: str | None = None,
) -> LocalServer:
    """`bentoml serve` of the service in this source tree, or of a built bento (`bento`: its tag in BENTOML_HOME)."""
    port = port or free_port()
    env = dict(os.environ)
    env.update({"MODEL_URI": model_uri, "BENTOML_WORKERS": str(workers)})
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    root = Path(__file__).resolve().parent.parent
    target = [bento] if bento else ["services.serving.service:ModelServer", "--working-dir", str(root)]
    cmd = [str(BIN / "bentoml"), "serve", *target, "--host", "127.0.0.1", "--port", str(port)]
    return _spawn("bentoml serve", cmd, f"http://127.0.0.1:{port}", "/readyz", log_path, env, timeout)
