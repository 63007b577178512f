"""Stacks through the Automation API: up/preview/destroy, render, promote, rollback, retrain."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from mlops_kit.cli.app import command, console, printer
from mlops_kit.errors import EnvironmentProblem, KitError, UserError
from mlops_kit.model_registry import MlflowRegistry
from mlops_kit.paths import REPO_ROOT, local_context, local_kubeconfig


def _run_stack(action: str, stack: str) -> None:
    from pulumi import automation as auto

    from infra.config import ConfigError, load_stack_file
    from mlops_kit import stacks

    try:
        # Before the engine: a typo in the stack name must not create a new, empty stack in the backend.
        load_stack_file(stack)
    except ConfigError as exc:
        known = sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))
        raise ConfigError(f"{exc} (stacks with a config file: {', '.join(known)})") from None
    try:
        operation = getattr(stacks, action)
        selected, _result = operation(stack, on_output=printer)
    except auto.CommandError as exc:
        # The engine already streamed the details (our program's advice included); end with a one-line pointer.
        raise EnvironmentProblem(
            f"pulumi {action} -s {stack} failed; see the messages above ({str(exc).splitlines()[0][:200]})"
        ) from None
    if action == "up":
        console.print("\n[bold]stack outputs[/]")
        console.print_json(data=stacks.outputs(selected))
        console.print(
            "\nNext:\n"
            f"  look at it     kubectl --kubeconfig {local_kubeconfig()} --context {local_context()} "
            "-n <namespace> get deploy,svc,pvc,cronjob\n"
            f"  change it      edit Pulumi.{stack}.yaml, then `mlops-kit preview -s {stack}` (or plain `pulumi preview -s {stack}`)\n"
            f"  review it      mlops-kit render -s {stack} -o out/manifests\n"
            f"  promote        mlops-kit promote {stack} staging --prometheus-url http://127.0.0.1:9090\n"
            f"  tear down      mlops-kit destroy -s {stack}; make down"
        )


@command()
def up(stack: Annotated[str, typer.Option("--stack", "-s", help="dev, staging or prod.")] = "dev") -> None:
    """`pulumi up --yes` for a stack, with the kit's local defaults (file backend in .state/, passphrase secrets)."""
    _run_stack("up", stack)


@command()
def preview(stack: Annotated[str, typer.Option("--stack", "-s")] = "dev") -> None:
    """`pulumi preview` for a stack."""
    _run_stack("preview", stack)


@command()
def destroy(stack: Annotated[str, typer.Option("--stack", "-s")] = "dev") -> None:
    """`pulumi destroy --yes` for a stack (prod's protected stateful resources refuse)."""
    _run_stack("destroy", stack)


@contextlib.contextmanager
def _registry(stack: str, tracking_uri: str | None) -> Iterator[MlflowRegistry]:
    """The model registry of `stack`'s chain: --tracking-uri, or the MLflow of the chain's first stack through a
    port-forward."""
    from infra.preflight import check_reachable
    from mlops_kit.kube import Kube
    from mlops_kit.promotion import origin_of

    if tracking_uri:
        yield MlflowRegistry(tracking_uri)
        return
    name, origin = origin_of(stack)
    if not origin.tracking.enabled:
        raise UserError(
            f"the releases of {stack!r} come from stack {name!r}, which runs no MLflow "
            "(mlops-kit:tracking.enabled is false): pass --tracking-uri of the registry that holds its versions"
        )
    kube = Kube.for_stack(origin)
    check_reachable(str(kube.kubeconfig), kube.context)  # a missing cluster is one clear error, not kubectl's
    with kube.port_forward(origin.namespace, "svc/mlflow", 5000) as port:
        yield MlflowRegistry(f"http://127.0.0.1:{port}")


@command()
def promote(
    source: Annotated[str, typer.Argument(help="Stack whose running release is promoted, e.g. dev.")],
    target: Annotated[str, typer.Argument(help="Stack that receives it, e.g. staging.")],
    model: Annotated[str, typer.Option(help="Model service name.")] = "breast-cancer",
    prometheus_url: Annotated[
        str | None, typer.Option(help="Prometheus for the rollout analysis (e.g. a port-forward).")
    ] = None,
    no_gates: Annotated[
        bool, typer.Option("--no-gates", help="Skip the rollout analysis (unsafe; for clusters without traffic).")
    ] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow holding the model versions (default: the chain's first stack's, port-forwarded)."),
    ] = None,
) -> None:
    """Move the exact image digest + model version from SOURCE to TARGET, step by step, with a rollout analysis after each step."""
    from mlops_kit import stacks
    from mlops_kit.analysis import PrometheusAnalysis
    from mlops_kit.promotion import check_order
    from mlops_kit.promotion import promote as run_promotion

    if not no_gates and not prometheus_url:
        raise UserError(
            "the rollout analysis needs --prometheus-url (e.g. `kubectl -n <ns> port-forward svc/prometheus 9090` → http://127.0.0.1:9090), or pass --no-gates"
        )
    from infra.config import Strategy, load_stack_file
    from mlops_kit.kube import Kube
    from mlops_kit.traffic import held_out_rows, through_port_forward

    observer = None if no_gates else PrometheusAnalysis(prometheus_url)
    cfg = load_stack_file(target)
    served = next((m for m in cfg.models if m.name == model), None)
    # A blue-green preview takes no user traffic: the analysis sends it held-out rows of the retraining dataset.
    traffic = (
        through_port_forward(Kube.for_stack(cfg), served.port, held_out_rows(cfg.retraining.dataset))
        if served is not None
        and served.strategy == Strategy.blue_green
        and served.analysis.preview_load_rps > 0
        and not no_gates
        else None
    )
    check_order(source, target, cfg)  # before reaching for the registry: a wrong order needs no cluster to refuse
    with _registry(source, tracking_uri) as registry:
        release = run_promotion(
            source, target, model, stacks.select_stack, observer, printer, traffic=traffic, registry=registry
        )
    console.print(f"[green]✓[/] {target} runs {release.image} (model version {release.model_version})")


@command()
def rollback(
    target: Annotated[str, typer.Argument(help="Stack to roll back, e.g. prod.")],
    model: Annotated[str, typer.Option(help="Model service name.")] = "breast-cancer",
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow whose alias follows the rollback (default: as for promote).")
    ] = None,
) -> None:
    """Instant rollback: flip blue-green back, or drop the canary to 0%; the target's alias in the registry follows."""
    from mlops_kit import stacks
    from mlops_kit.promotion import rollback as run_rollback

    with contextlib.ExitStack() as opened:
        try:
            registry = opened.enter_context(_registry(target, tracking_uri))
        except KitError as exc:  # the rollback must not wait for the registry: it goes ahead, the alias stays
            console.print(f"[yellow]warning[/]: the registry's alias will not follow the rollback: {exc}")
            registry = None
        step = run_rollback(target, model, stacks.select_stack, printer, registry=registry)
    console.print(f"[green]✓[/] {target}: {step.description}")


@command()
def retrain(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Environment whose retraining CronJob to run now.")
    ] = "dev",
    model: Annotated[str, typer.Option(help="Registered model name.")] = "breast-cancer",
) -> None:
    """Start a retraining Job now from the stack's CronJob (the runbook of the drift alert)."""
    import subprocess
    import time

    from infra.config import load_stack_file
    from infra.manifests.retraining import cronjob_name
    from infra.preflight import check_reachable

    cfg = load_stack_file(stack)
    kubeconfig = check_reachable(cfg.cluster.kubeconfig, cfg.cluster.context)
    if model not in {m.model_name for m in cfg.models}:
        raise UserError(
            f"stack {stack!r} serves no model {model!r}; it serves {sorted({m.model_name for m in cfg.models})}"
        )
    job = f"{cronjob_name(model)}-manual-{int(time.time())}"
    command = ["kubectl", "--kubeconfig", str(kubeconfig), "-n", cfg.namespace, "create", "job", job,
               f"--from=cronjob/{cronjob_name(model)}"]  # fmt: skip
    if cfg.cluster.context:
        command[1:1] = ["--context", cfg.cluster.context]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise EnvironmentProblem(f"could not start the retraining job: {done.stderr.strip()}")
    console.print(f"started job {job} in {cfg.namespace}: kubectl -n {cfg.namespace} logs -f job/{job}")


@command()
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
    from mlops_kit.render import render as render_stack
    from mlops_kit.render import summary

    paths = render_stack(stack, out / stack)
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
            raise EnvironmentProblem("rendered objects do not validate:\n  " + "\n  ".join(problems))
    counts = ", ".join(f"{n} {kind}" for kind, n in summary(paths).items())
    checked = f"; valid for Kubernetes {validate}" if validate else ""
    console.print(f"wrote {len(paths)} objects to {out / stack} ({counts}){checked}")


@command()
def dashboards(
    prometheus_url: Annotated[str, typer.Option(help="Prometheus to query (e.g. a port-forward).")],
    namespace: Annotated[str, typer.Option(help="The stack's namespace, e.g. mlops-dev.")] = "mlops-dev",
    service: Annotated[str, typer.Option(help="Model services to show (regex).")] = ".*",
    dashboard: Annotated[str | None, typer.Option(help="One dashboard file, e.g. model-service.json.")] = None,
) -> None:
    """The repo's dashboards without Grafana: every panel's queries, evaluated now."""
    from rich.table import Table

    from mlops_kit.dashboards import read

    table = Table("panel", "series", "value", title=f"dashboards · {namespace} · {prometheus_url}")
    for reading in read(prometheus_url, namespace, service, dashboard):
        table.add_row(reading.panel, reading.legend, reading.value)
    console.print(table)


@command()
def launch(stack: Annotated[str, typer.Option("--stack", "-s", help="A stack on the local cluster.")] = "dev") -> None:
    """`make up`'s main job: local cluster with a real node → platform → champion → its image → predictions."""
    from infra.config import load_stack_file
    from mlops_kit.main_job import run
    from mlops_kit.stacks import state_root

    cfg = load_stack_file(stack)
    logs = state_root(cfg) / "logs" / "launch"
    ctx = run(stack, console, logs)
    ns, model = cfg.namespace, cfg.models[0]
    kubectl = f"kubectl --kubeconfig {ctx.kube.kubeconfig} --context {ctx.kube.context} -n {ns}"
    console.print(
        f"\n[bold]{model.name} v{ctx.facts['champion']} answers at {ctx.facts['address']}[/] (logs: {logs})\n\nNext:\n"
        f"  predict        curl -s -X POST {ctx.facts['address']}/predict -H 'content-type: application/json' "
        "-d '{\"instances\": [[...30 numbers...]]}'\n"
        f"  MLflow UI      {kubectl} port-forward svc/mlflow 5050:5000   → http://127.0.0.1:5050\n"
        f"  Prometheus     {kubectl} port-forward svc/prometheus 9090   → http://127.0.0.1:9090\n"
        f"  dashboards     mlops-kit dashboards --prometheus-url http://127.0.0.1:9090 --namespace {ns}\n"
        f"  look at it     {kubectl} get pods,svc,pvc,cronjob\n"
        f"  promote        mlops-kit promote {stack} staging --prometheus-url http://127.0.0.1:9090\n"
        "  tear down      make down"
    )


@command()
def cancel(stack: Annotated[str, typer.Option("--stack", "-s")] = "dev") -> None:
    """Release the lock an interrupted update left on a stack (`pulumi cancel`)."""
    from mlops_kit import stacks

    stacks.select_stack(stack, ensure_secrets=False).cancel()
    console.print(f"stack {stack}: lock released")
