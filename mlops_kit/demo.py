"""The local ML loop end to end: MLflow server → train + champion gate → BentoML server → a sample prediction.

Servers keep running after the command returns (their PIDs are in the state dir) so the user can explore;
`mlops-kit demo-stop` ends them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import httpx
from rich.console import Console

from mlops_kit.errors import EnvironmentProblem
from mlops_kit.local import LocalServer, start_bento, start_mlflow

DEFAULT_MLFLOW_PORT = 5050  # 5000 is the local image registry's
DEFAULT_SERVE_PORT = 3000


class DemoError(EnvironmentProblem):
    pass


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _port_busy(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _remember(state: Path, server: LocalServer) -> None:
    (state / f"{server.name.split()[0]}.pid").write_text(str(server.process.pid))


def stop(state: Path) -> list[str]:
    stopped = []
    for pid_file in sorted(state.glob("*.pid")):
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            stopped.append(pid_file.stem)
        except (ProcessLookupError, ValueError, PermissionError):
            pass
        pid_file.unlink(missing_ok=True)
    return stopped


def run_demo(
    state: Path, console: Console, mlflow_port: int = DEFAULT_MLFLOW_PORT, serve_port: int = DEFAULT_SERVE_PORT
) -> None:
    from sklearn.datasets import load_breast_cancer

    from services.training.config import TrainingConfig
    from services.training.pipeline import run_training

    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    tracking = f"http://127.0.0.1:{mlflow_port}"
    if _answers(tracking + "/health"):
        console.print(f"[green]✓[/] MLflow already running at {tracking}")
    elif _port_busy(mlflow_port):
        raise DemoError(
            f"port {mlflow_port} is taken by something that is not MLflow; pass --mlflow-port with a free port"
        )
    else:
        with console.status(f"starting MLflow on {tracking} (sqlite + local artifacts in {state / 'mlflow'})"):
            _remember(state, start_mlflow(state / "mlflow", mlflow_port))
        console.print(f"[green]✓[/] MLflow tracking server and registry at {tracking}")

    with console.status("training") as status:
        result = run_training(TrainingConfig(), tracking, report=lambda step: status.update(step))
    console.print(
        f"[green]✓[/] trained {result.model_name} v{result.model_version}: roc_auc {result.metrics['roc_auc']:.4f}; "
        f"champion gate → [bold]{result.decision.alias}[/] ({result.decision.reason})"
    )

    stop_pid = state / "bentoml.pid"
    if stop_pid.exists():  # a server from an earlier run serves an older champion: replace it
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(stop_pid.read_text()), signal.SIGTERM)
    if _port_busy(serve_port):
        raise DemoError(f"port {serve_port} is in use; stop what runs there or pass --serve-port")
    with console.status(f"starting BentoML on 127.0.0.1:{serve_port} (models:/{result.model_name}@champion)"):
        bento = start_bento(f"models:/{result.model_name}@champion", tracking, state / "bentoml.log", serve_port)
    _remember(state, bento)
    console.print(f"[green]✓[/] BentoML serving models:/{result.model_name}@champion at {bento.url}")

    data = load_breast_cancer(as_frame=True)
    rows = data.data.iloc[:3].values.tolist()
    response = httpx.post(f"{bento.url}/predict", json={"instances": rows}, timeout=30)
    response.raise_for_status()
    console.print(
        f"[green]✓[/] sample prediction from {response.headers['x-model-name']} v{response.headers['x-model-version']}: "
        f"{response.json()} (true labels {data.target.iloc[:3].tolist()})"
    )
    console.print(
        "\nNext:\n"
        f"  MLflow UI            {tracking}\n"
        f"  predict              curl -s -X POST {bento.url}/predict -H 'content-type: application/json' "
        "-d '{\"instances\": [[...30 numbers...]]}'\n"
        f"  served model         curl -s {bento.url}/model/\n"
        f"  metrics              curl -s {bento.url}/metrics | grep mlops_\n"
        f"  train again          MLFLOW_TRACKING_URI={tracking} mlops-kit train --estimator random_forest\n"
        f"  stop the servers     mlops-kit demo-stop"
    )
