"""`make up`: from a built toolchain to a model answering on real pods of the local cluster, step by step.

cluster (control plane + a real node) → images (built offline, pushed to 127.0.0.1:5000) → platform (`pulumi up` of
the stack: MLflow, Prometheus, retraining; the model waits for a champion) → champion (the bundled model trained
against the platform's own MLflow; the gate decides) → release (the serving image of the champion's exact version,
pushed, and `pulumi up` with its digest) → answer (predictions through the model's Service).

Every step is idempotent, so a second run changes nothing: images are rebuilt only when their inputs change, a
registry that has a champion is not trained again, and an unchanged release is a no-op `pulumi up`. What is true
of this machine only (digests, the champion's version) goes into the stack's local overrides, never into the
tracked `Pulumi.<env>.yaml`. A failing step names itself, its log and what to do.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from infra.config import StackConfig, load_stack_file
from mlops_kit import images, stacks
from mlops_kit.errors import EnvironmentProblem, KitError, UserError
from mlops_kit.kube import Kube
from mlops_kit.paths import REPO_ROOT, local_context, local_kubeconfig
from mlops_kit.waiting import GaveUp, wait_until

SAMPLE_ROWS = (0, 1, 19, 20)  # bundled breast_cancer rows with both labels (0, 0, 1, 1)


@dataclass
class Context:
    stack: str
    cfg: StackConfig
    console: Console
    logs: Path
    kube: Kube
    source: Path = REPO_ROOT  # the project whose Pulumi.<stack>.yaml is deployed (a scratch copy in the e2e tests)
    state: Path | None = None  # None: the state that belongs to the stack's cluster
    facts: dict[str, Any] = field(default_factory=dict)  # what earlier steps learnt: image refs, champion version

    def log(self, step: str) -> Path:
        return self.logs / f"{step}.log"

    def engine_output(self, step: str) -> Callable[[str], None]:
        sink = self.log(step).open("a")
        return lambda line: (sink.write(line.rstrip("\n") + "\n"), sink.flush())


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    run: Callable[[Context], str]  # returns a one-line summary
    advice: str


def _cluster(ctx: Context) -> str:
    from mlops_kit import localcluster

    state = localcluster.up(ctx.cfg.cluster.context.removeprefix("kwok-"))
    real = [n for n in state.nodes if n.real and n.ready]
    if not real:
        raise EnvironmentProblem("the cluster has no Ready real node")
    return f"{state.context}: {len(real)} real node Ready, {len(state.nodes) - len(real)} fake"


def _images(ctx: Context) -> str:
    names = images.platform_images(ctx.cfg)
    published = images.publish(names, ctx.log("images"))
    ctx.facts["images"] = published
    return ", ".join(ref.rsplit("/", 1)[-1][:40] for ref in published.values())


def _platform_overrides(ctx: Context) -> dict[str, Any]:
    refs = ctx.facts["images"]
    return {images.CONFIG_KEYS[name]: ref for name, ref in refs.items()}


def _up(ctx: Context, step: str, overrides: dict[str, Any]) -> str:
    from pulumi import automation as auto

    selected = stacks.select_stack(ctx.stack, ctx.state, work_dir=ctx.source)
    selected.set_local_overrides(overrides)
    try:
        result = selected.up(on_output=ctx.engine_output(step), color="never")
    except auto.ConcurrentUpdateError:
        raise EnvironmentProblem(
            f"another update of stack {ctx.stack} holds its lock; if none runs any more (an interrupted run), "
            f"release it with `mlops-kit cancel -s {ctx.stack}` and run again"
        ) from None
    except auto.CommandError as exc:
        raise EnvironmentProblem(
            f"pulumi up -s {ctx.stack} failed: {str(exc).strip().splitlines()[-1][:300]}"
        ) from None
    changes = {k: v for k, v in (result.summary.resource_changes or {}).items() if k != "same"}
    return f"pulumi up -s {ctx.stack}: {changes or 'no changes'}"


def _platform(ctx: Context) -> str:
    selected = stacks.select_stack(ctx.stack, ctx.state, work_dir=ctx.source)
    current = stacks.local_overrides(selected.workspace, ctx.stack)
    released = {k: v for k, v in current.items() if k.startswith("models[")}
    # The first time, the model services wait (no champion yet): deploy the platform alone.
    models = released or {"models": []}
    return _up(ctx, "platform", {**_platform_overrides(ctx), **models})


def _champion(ctx: Context) -> str:
    from mlflow import MlflowClient

    from services.training.config import TrainingConfig
    from services.training.pipeline import run_training

    model = ctx.cfg.models[0]
    with ctx.kube.port_forward(ctx.cfg.namespace, "svc/mlflow", 5000) as port:
        uri = f"http://127.0.0.1:{port}"
        client = MlflowClient(uri)
        try:
            version = client.get_model_version_by_alias(model.model_name, "champion").version
            summary = f"{model.model_name} v{version} is already champion"
        except Exception:
            with ctx.log("champion").open("a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                result = run_training(TrainingConfig(model_name=model.model_name), uri)
            if result.decision.alias != "champion":
                raise EnvironmentProblem(f"the gate kept the old champion: {result.decision.reason}") from None
            version = result.model_version
            summary = f"trained {model.model_name} v{version}: {result.decision.reason}"
        ctx.facts["champion"] = str(version)
        ctx.facts["tracking_uri"] = uri
        # The serving image bakes the model in: download it while the port-forward is open.
        env = {"MODEL_NAME": model.model_name, "MODEL_VERSION": str(version), "MLFLOW_TRACKING_URI": uri}
        ctx.facts["serving"] = images.publish(("serving",), ctx.log("champion"), env)["serving"]
    return summary


def _release(ctx: Context) -> str:
    model = ctx.cfg.models[0]
    overrides = {
        **_platform_overrides(ctx),
        "models[0].image.ref": ctx.facts["serving"],
        "models[0].modelVersion": ctx.facts["champion"],
    }
    return f"{model.name} v{ctx.facts['champion']} ({ctx.facts['serving'].rsplit('@', 1)[-1][:19]}…); " + _up(
        ctx, "release", overrides
    )


def _answer(ctx: Context) -> str:
    from services.training.data import load_dataset

    model = ctx.cfg.models[0]
    service = ctx.kube.get("-n", ctx.cfg.namespace, "service", model.name)
    address = f"http://{service['spec']['clusterIP']}:{model.port}"
    dataset = load_dataset("breast_cancer")
    features = dataset.frame[dataset.feature_names]
    rows = [[float(v) for v in features.iloc[i]] for i in SAMPLE_ROWS]
    expected = [int(dataset.frame[dataset.target].iloc[i]) for i in SAMPLE_ROWS]

    def predict() -> list[dict[str, Any]] | None:
        response = httpx.post(f"{address}/predict", json={"instances": rows}, timeout=5)
        return response.json() if response.status_code == 200 else None

    try:
        answer = wait_until(predict, timeout=120, interval=1)
    except GaveUp as exc:
        raise EnvironmentProblem(f"{address}/predict did not answer 200: {exc}") from None
    labels = [item["label"] for item in answer]
    if labels != expected:
        raise EnvironmentProblem(f"the model answered labels {labels} for rows whose labels are {expected}")
    ctx.facts["address"] = address
    return f"POST {address}/predict → labels {labels} (true labels {expected})"


STEPS = (
    Step("cluster", "local cluster with a real node", _cluster, "`mlops-kit cluster status`; `make down` then rerun"),
    Step("images", "platform images built offline, pushed to 127.0.0.1:5000", _images,
         "`bash images/publish.sh mlflow` shows the failing build; `bash scripts/registry.sh` starts the registry"),
    Step("platform", "MLflow, Prometheus and retraining on the cluster", _platform,
         "the engine's messages are in the log; `kubectl get pods -A` shows what does not start"),
    Step("champion", "bundled model trained against the platform's MLflow; serving image of the champion", _champion,
         "`kubectl -n <namespace> logs deploy/mlflow`; the gate's reason is in the log"),
    Step("release", "pulumi up with the champion's image digest", _release,
         "`kubectl -n <namespace> describe deploy/<model>` shows why pods are not Ready"),
    Step("answer", "predictions through the model's Service", _answer,
         "`kubectl -n <namespace> get endpoints <model>`; `mlops-kit cluster status`"),
)  # fmt: skip


def run(stack: str, console: Console, logs: Path, source: Path = REPO_ROOT, state: Path | None = None) -> Context:
    cfg = load_stack_file(stack, source)
    if not cfg.cluster.is_local:
        raise UserError(
            f"`make up` runs the {stack} stack on the kit's local cluster; its context is {cfg.cluster.context!r}"
        )
    if not cfg.models:
        raise UserError(f"stack {stack!r} serves no model: add one under mlops-kit:models")
    logs.mkdir(parents=True, exist_ok=True)
    kube = Kube(local_kubeconfig(), cfg.cluster.context or local_context())
    ctx = Context(stack, cfg, console, logs, kube, source, state)
    for number, step in enumerate(STEPS, 1):
        started = time.monotonic()
        with console.status(f"[{number}/{len(STEPS)}] {step.title}"):
            try:
                summary = step.run(ctx)
            except Exception as exc:
                reason = exc.message if isinstance(exc, KitError) else f"{type(exc).__name__}: {exc}"
                with ctx.log(step.name).open("a") as log:
                    traceback.print_exc(file=log)
                raise EnvironmentProblem(
                    f"step {number}/{len(STEPS)} '{step.name}' failed: {reason}\n"
                    f"  log: {ctx.log(step.name)}\n  what to do: {step.advice}"
                ) from None
        console.print(
            f"[green]✓[/] [{number}/{len(STEPS)}] {step.name}: {summary}  ({time.monotonic() - started:.1f} s)"
        )
    return ctx
