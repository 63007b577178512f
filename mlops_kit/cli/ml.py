"""The ML loop without Kubernetes: train (+ champion gate), serve with BentoML, and the local demo."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from mlops_kit.cli.app import command, console, validation_problems
from mlops_kit.errors import UserError
from mlops_kit.paths import REPO_ROOT


@command()
def train(
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = "breast-cancer",
    dataset: Annotated[
        str, typer.Option(help="breast_cancer, wine_binary, or a .csv/.parquet path.")
    ] = "breast_cancer",
    target: Annotated[str, typer.Option(help="Label column of a file dataset.")] = "target",
    estimator: Annotated[
        str, typer.Option(help="logistic_regression, random_forest, gradient_boosting, dummy.")
    ] = "logistic_regression",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Hyper-parameter KEY=VALUE (JSON value), repeatable.")
    ] = None,
    test_size: Annotated[float, typer.Option(help="Held-out fraction.")] = 0.25,
    seed: Annotated[int, typer.Option(help="Split and estimator seed.")] = 42,
    gate_metric: Annotated[str, typer.Option(help="accuracy, precision, recall, f1, roc_auc.")] = "roc_auc",
    gate_margin: Annotated[float, typer.Option(help="Required improvement over the champion.")] = 0.0,
    tracking_uri: Annotated[str | None, typer.Option(envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Train → validate data → log to MLflow → register → champion gate → alias."""
    from services.training.config import TrainingConfig
    from services.training.pipeline import run_training

    params: dict[str, Any] = {}
    for item in param or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param {item!r}: expected KEY=VALUE, e.g. --param C=0.5")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    try:
        config = TrainingConfig(
            model_name=model_name, dataset=dataset, target=target, estimator=estimator, params=params,
            test_size=test_size, seed=seed, gate_metric=gate_metric, gate_margin=gate_margin,
        )  # fmt: skip
    except ValidationError as exc:
        raise validation_problems(exc, "--") from None

    if as_json:
        # stdout carries the JSON alone: what MLflow prints while a run ends ("View run … at …") goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = run_training(config, tracking_uri)
    else:
        with console.status("training") as status:
            result = run_training(config, tracking_uri, report=lambda s: status.update(s))

    decision = result.decision
    if as_json:
        payload = {
            "run_id": result.run_id, "model_name": result.model_name, "model_version": result.model_version,
            "alias": decision.alias, "metrics": result.metrics, "gate": decision.as_tags(),
            "dataset_digest": result.dataset_digest, "timings": result.timings,
        }  # fmt: skip
        sys.stdout.write(json.dumps(payload) + "\n")  # not rich: no colour codes or wrapping, whatever the terminal
        return
    table = Table(title=f"{result.model_name} v{result.model_version} (run {result.run_id[:8]})")
    table.add_column("metric")
    table.add_column("held-out score", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    colour = "green" if decision.alias == "champion" else "yellow"
    console.print(f"champion gate: [bold {colour}]{decision.alias}[/] — {decision.reason}")
    console.print(f"dataset digest {result.dataset_digest} from {result.dataset_source}")
    console.print(f"model URI: models:/{result.model_name}@{decision.alias}  ({result.timings.get('done', 0):.1f} s)")


@command()
def serve(
    model_uri: Annotated[str | None, typer.Option(help="Model to serve (default models:/<name>@champion).")] = None,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = "breast-cancer",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    tracking_uri: Annotated[str | None, typer.Option(envvar="MLFLOW_TRACKING_URI")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="BentoML HTTP workers.")] = 1,
) -> None:
    """Serve the model locally with BentoML (the same service the images run)."""
    import subprocess

    from services.training.pipeline import DEFAULT_TRACKING_URI, check_tracking_server

    uri = model_uri or f"models:/{model_name}@champion"
    tracking_uri = tracking_uri or DEFAULT_TRACKING_URI
    if uri.startswith(("models:/", "runs:/")):
        check_tracking_server(tracking_uri)  # fails in a second with advice, not after BentoML's start-up traceback
    elif not Path(uri).is_dir():
        raise UserError(f"--model-uri {uri!r}: neither models:/…, runs:/… nor a local MLflow model directory")
    env = dict(os.environ)
    env["MODEL_NAME"] = model_name
    env["MODEL_URI"] = uri
    env["BENTOML_WORKERS"] = str(workers)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    cmd = [sys.executable, "-m", "bentoml", "serve", "services.serving.service:ModelServer",
           "--host", host, "--port", str(port), "--working-dir", str(REPO_ROOT)]  # fmt: skip
    console.print(f"serving {env['MODEL_URI']} on http://{host}:{port}  (POST /predict, GET /model/, /metrics)")
    raise typer.Exit(subprocess.call(cmd, env=env))


@command()
def demo(
    state_dir: Annotated[Path, typer.Option(help="Where MLflow's sqlite DB, artifacts, logs and PIDs live.")] = Path(
        ".state"
    ),
    mlflow_port: Annotated[int, typer.Option(min=1, max=65535)] = 5050,
    serve_port: Annotated[int, typer.Option(min=1, max=65535)] = 3000,
) -> None:
    """The local ML loop end to end: MLflow server, train + champion gate, BentoML server, a sample prediction."""
    from mlops_kit.demo import run_demo

    run_demo(state_dir, console, mlflow_port, serve_port)


@command("demo-stop")
def demo_stop(state_dir: Annotated[Path, typer.Option()] = Path(".state")) -> None:
    """Stop the servers `mlops-kit demo` left running."""
    from mlops_kit.demo import stop

    stopped = stop(state_dir)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
