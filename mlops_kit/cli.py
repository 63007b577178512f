"""`mlops-kit`: the convenience CLI over the training pipeline, serving, local cluster and Pulumi stacks.

Every user mistake ends in a one-paragraph message and exit code 2 (bad input) or 1 (environment), never a traceback.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="mlops-kit: train, gate, serve and roll out ML models on Kubernetes, as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: the dotted field path, what was wrong, the value given."""
    lines = []
    for problem in exc.errors(include_url=False):
        where = ".".join(str(p) for p in problem["loc"]) or "<root>"
        if prefix == "--":  # CLI options are spelled with dashes
            where = where.replace("_", "-")
        given = f" (got {problem['input']!r})" if "input" in problem and not isinstance(problem["input"], dict) else ""
        lines.append(f"  {prefix}{where}: {problem['msg']}{given}")
    return "invalid configuration:\n" + "\n".join(lines)


@app.command()
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
    """Train → validate data → log to MLflow → register → gate vs champion → alias."""
    from services.training.config import TrainingConfig
    from services.training.data import DataValidationError
    from services.training.pipeline import TrainingError, run_training

    params: dict[str, Any] = {}
    for item in param or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise fail(f"--param {item!r}: expected KEY=VALUE, e.g. --param C=0.5")
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
        raise fail(format_validation_error(exc, "--")) from None

    try:
        if as_json:
            result = run_training(config, tracking_uri)
        else:
            with console.status("training") as status:
                result = run_training(config, tracking_uri, report=lambda s: status.update(s))
    except DataValidationError as exc:
        raise fail(str(exc)) from None
    except TrainingError as exc:
        raise fail(str(exc), code=1) from None

    decision = result.decision
    if as_json:
        payload = {
            "run_id": result.run_id, "model_name": result.model_name, "model_version": result.model_version,
            "alias": decision.alias, "metrics": result.metrics, "gate": decision.as_tags(),
            "dataset_digest": result.dataset_digest, "timings": result.timings,
        }  # fmt: skip
        console.print_json(json.dumps(payload))
        return
    table = Table(title=f"{result.model_name} v{result.model_version} (run {result.run_id[:8]})")
    table.add_column("metric")
    table.add_column("held-out score", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    colour = "green" if decision.alias == "champion" else "yellow"
    console.print(f"gate: [bold {colour}]{decision.alias}[/] — {decision.reason}")
    console.print(f"dataset digest {result.dataset_digest} from {result.dataset_source}")
    console.print(f"model URI: models:/{result.model_name}@{decision.alias}  ({result.timings.get('done', 0):.1f} s)")


@app.command()
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
    import sys

    from services.training.pipeline import DEFAULT_TRACKING_URI, TrainingError, check_tracking_server

    uri = model_uri or f"models:/{model_name}@champion"
    tracking_uri = tracking_uri or DEFAULT_TRACKING_URI
    if uri.startswith(("models:/", "runs:/")):
        try:  # fail in a second with advice, not after BentoML's start-up traceback
            check_tracking_server(tracking_uri)
        except TrainingError as exc:
            raise fail(str(exc), code=1) from None
    elif not Path(uri).is_dir():
        raise fail(f"--model-uri {uri!r}: neither models:/…, runs:/… nor a local MLflow model directory")
    env = dict(os.environ)
    env["MODEL_NAME"] = model_name
    env["MODEL_URI"] = uri
    env["BENTOML_WORKERS"] = str(workers)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "bentoml", "serve", "services.serving.service:ModelService",
           "--host", host, "--port", str(port), "--working-dir", str(root)]  # fmt: skip
    console.print(f"serving {env['MODEL_URI']} on http://{host}:{port}  (POST /predict, GET /model/, /metrics)")
    raise typer.Exit(subprocess.call(cmd, env=env))


cluster_app = typer.Typer(
    help="The kit's local Kubernetes control plane (kwok: real API server, simulated nodes).", no_args_is_help=True
)
app.add_typer(cluster_app, name="cluster")


def _print_cluster(state) -> None:
    ready = sum(state.nodes.values())
    console.print(
        f"cluster {state.name}: {'running' if state.running else 'stopped'}; context {state.context}; "
        f"kubeconfig {state.kubeconfig}; server {state.server or '-'}; nodes ready {ready}/{len(state.nodes)}"
    )


@cluster_app.command("up")
def cluster_up(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Start (or reuse) the local cluster; its context is what the stacks name by default."""
    from mlops_kit import cluster

    try:
        with console.status(f"starting local cluster {name}"):
            state = cluster.up(name)
    except cluster.ClusterError as exc:
        raise fail(str(exc), code=1) from None
    _print_cluster(state)


@cluster_app.command("down")
def cluster_down(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Stop and delete the local cluster."""
    from mlops_kit import cluster

    try:
        cluster.down(name)
    except cluster.ClusterError as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"cluster {name} deleted")


@cluster_app.command("status")
def cluster_status(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Whether the local cluster runs, its context, kubeconfig and nodes."""
    from mlops_kit import cluster

    _print_cluster(cluster.status(name))


def _run_stack(action: str, stack: str) -> None:
    from pulumi import automation as auto

    from infra.config import ConfigError, load_stack_file
    from mlops_kit import stacks

    try:
        # Before the engine: a typo in the stack name must not create a new, empty stack in the backend.
        load_stack_file(stack)
    except ConfigError as exc:
        known = sorted(p.name.split(".")[1] for p in stacks.ROOT.glob("Pulumi.*.yaml"))
        raise fail(f"{exc} (stacks with a config file: {', '.join(known)})") from None
    try:
        operation = getattr(stacks, action)
        selected, _result = operation(stack, on_output=_printer)
    except stacks.StackError as exc:
        raise fail(str(exc), code=1) from None
    except auto.CommandError as exc:
        # The engine already streamed the details (our program's advice included); end with a one-line pointer.
        raise fail(
            f"pulumi {action} -s {stack} failed; see the messages above ({str(exc).splitlines()[0][:200]})", 1
        ) from None
    if action == "up":
        console.print("\n[bold]stack outputs[/]")
        console.print_json(data=stacks.outputs(selected))
        console.print(
            "\nNext:\n"
            f"  look at it     kubectl --kubeconfig ~/.cache/mlops-kit/kwok/kubeconfig --context kwok-mlops-kit "
            "-n <namespace> get deploy,svc,pvc,cronjob\n"
            f"  change it      edit Pulumi.{stack}.yaml, then `mlops-kit preview -s {stack}` (or plain `pulumi preview -s {stack}`)\n"
            f"  review it      mlops-kit render -s {stack} -o out/manifests\n"
            f"  promote        mlops-kit promote {stack} staging --no-gates   (kwok serves no traffic to gate on)\n"
            f"  tear down      mlops-kit destroy -s {stack}; make down"
        )


@app.command()
def up(stack: Annotated[str, typer.Option("--stack", "-s", help="dev, staging or prod.")] = "dev") -> None:
    """`pulumi up --yes` for a stack, with the kit's local defaults (file backend in .state/, passphrase secrets)."""
    _run_stack("up", stack)


@app.command()
def preview(stack: Annotated[str, typer.Option("--stack", "-s")] = "dev") -> None:
    """`pulumi preview` for a stack."""
    _run_stack("preview", stack)


@app.command()
def destroy(stack: Annotated[str, typer.Option("--stack", "-s")] = "dev") -> None:
    """`pulumi destroy --yes` for a stack (prod's protected stateful resources refuse)."""
    _run_stack("destroy", stack)


def _printer(line: str) -> None:
    """Engine output arrives line by line without newlines; our own progress lines carry one."""
    console.print(line.rstrip("\n"), markup=False, highlight=False)


@app.command()
def promote(
    source: Annotated[str, typer.Argument(help="Stack whose running release is promoted, e.g. dev.")],
    target: Annotated[str, typer.Argument(help="Stack that receives it, e.g. staging.")],
    model: Annotated[str, typer.Option(help="Model service name.")] = "breast-cancer",
    prometheus_url: Annotated[str | None, typer.Option(help="Prometheus for the gates (e.g. a port-forward).")] = None,
    no_gates: Annotated[
        bool, typer.Option("--no-gates", help="Skip metric gates (unsafe; for clusters without traffic).")
    ] = False,
) -> None:
    """Move the exact image digest + model version from SOURCE to TARGET, step by step with metric gates."""
    from infra.automation.gates import PrometheusGate
    from infra.automation.promotion import PromotionError
    from infra.automation.run import promote as run_promotion
    from infra.config import ConfigError
    from mlops_kit import stacks

    if not no_gates and not prometheus_url:
        raise fail(
            "gates need --prometheus-url (e.g. `kubectl -n <ns> port-forward svc/prometheus 9090` → http://127.0.0.1:9090), or pass --no-gates"
        )
    observer = None if no_gates else PrometheusGate(prometheus_url)
    try:
        release = run_promotion(source, target, model, stacks.select_stack, observer, _printer)
    except (PromotionError, ConfigError, stacks.StackError) as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"[green]✓[/] {target} runs {release.image} (model version {release.model_version})")


@app.command()
def rollback(
    target: Annotated[str, typer.Argument(help="Stack to roll back, e.g. prod.")],
    model: Annotated[str, typer.Option(help="Model service name.")] = "breast-cancer",
) -> None:
    """Instant rollback: flip blue-green back, or drop the canary to 0%."""
    from infra.automation.promotion import PromotionError
    from infra.automation.run import rollback as run_rollback
    from infra.config import ConfigError
    from mlops_kit import stacks

    try:
        step = run_rollback(target, model, stacks.select_stack, _printer)
    except (PromotionError, ConfigError, stacks.StackError) as exc:
        raise fail(str(exc), code=1) from None
    console.print(f"[green]✓[/] {target}: {step.description}")


@app.command()
def retrain(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Environment whose retraining CronJob to run now.")
    ] = "dev",
    model: Annotated[str, typer.Option(help="Registered model name.")] = "breast-cancer",
) -> None:
    """Start a retraining Job now from the stack's CronJob (the runbook of the drift alert)."""
    import subprocess
    import time

    from infra.config import ConfigError, load_stack_file
    from infra.manifests.retraining import cronjob_name
    from infra.preflight import ClusterUnreachable, check_reachable

    try:
        cfg = load_stack_file(stack)
        kubeconfig = check_reachable(cfg.cluster.kubeconfig, cfg.cluster.context)
    except (ConfigError, ClusterUnreachable) as exc:
        raise fail(str(exc), code=1) from None
    if model not in {m.model_name for m in cfg.models}:
        raise fail(f"stack {stack!r} serves no model {model!r}; it serves {sorted({m.model_name for m in cfg.models})}")
    job = f"{cronjob_name(model)}-manual-{int(time.time())}"
    command = ["kubectl", "--kubeconfig", str(kubeconfig), "-n", cfg.namespace, "create", "job", job,
               f"--from=cronjob/{cronjob_name(model)}"]  # fmt: skip
    if cfg.cluster.context:
        command[1:1] = ["--context", cfg.cluster.context]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise fail(f"could not start the retraining job: {done.stderr.strip()}", code=1)
    console.print(f"started job {job} in {cfg.namespace}: kubectl -n {cfg.namespace} logs -f job/{job}")


@app.command()
def render(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack (environment) to render: dev, staging, prod.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (one YAML file per object).")] = Path(
        "out/manifests"
    ),
    validate: Annotated[
        str,
        typer.Option(help="Also validate strictly against these Kubernetes versions (comma-separated; empty to skip)."),
    ] = "1.29.0,1.37.0",
) -> None:
    """Write every Kubernetes object the stack would create as YAML: no cluster, no Pulumi CLI needed."""
    from infra.config import ConfigError
    from infra.render import render as render_stack
    from infra.render import summary

    try:
        paths = render_stack(stack, out / stack)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if validate:
        import kubernetes_validate
        import yaml

        problems = []
        for path in paths:
            manifest = yaml.safe_load(path.read_text())
            for version in validate.split(","):
                try:
                    kubernetes_validate.validate(manifest, version.strip(), strict=True)
                except kubernetes_validate.ValidationError as exc:
                    problems.append(f"{path}: Kubernetes {version}: {exc.message}")
        if problems:
            raise fail("rendered objects do not validate:\n  " + "\n  ".join(problems), code=1)
    counts = ", ".join(f"{n} {kind}" for kind, n in summary(paths).items())
    checked = f"; valid for Kubernetes {validate}" if validate else ""
    console.print(f"wrote {len(paths)} objects to {out / stack} ({counts}){checked}")


@app.command()
def demo(
    state_dir: Annotated[Path, typer.Option(help="Where MLflow's sqlite DB, artifacts, logs and PIDs live.")] = Path(
        ".state"
    ),
    mlflow_port: Annotated[int, typer.Option(min=1, max=65535)] = 5050,
    serve_port: Annotated[int, typer.Option(min=1, max=65535)] = 3000,
) -> None:
    """The local ML loop end to end: MLflow server, train + gate, BentoML server, a sample prediction."""
    from mlops_kit.demo import DemoError, run_demo
    from mlops_kit.local import ProcessStartError
    from services.training.pipeline import TrainingError

    try:
        run_demo(state_dir, console, mlflow_port, serve_port)
    except (DemoError, ProcessStartError, TrainingError) as exc:
        raise fail(str(exc), code=1) from None


@app.command("demo-stop")
def demo_stop(state_dir: Annotated[Path, typer.Option()] = Path(".state")) -> None:
    """Stop the servers `mlops-kit demo` left running."""
    from mlops_kit.demo import stop

    stopped = stop(state_dir)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


if __name__ == "__main__":
    app()
