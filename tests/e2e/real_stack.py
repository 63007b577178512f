"""The dev stack on the e2e cluster's real node, deployed once per session by the main job `make up` runs
(mlops_kit.main_job), for the real-pod tests (test_real_pods.py) and the real rollouts (test_real_rollouts.py).

It runs from a scratch copy of the project in a namespace of its own, with state and a backend of its own; it is
destroyed at the end of the session, also on failure.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console

from infra.config import PROJECT
from mlops_kit import main_job, stacks

NAMESPACE = "mlops-e2e-pods"
MODEL = "breast-cancer"
SCALE_DOWN_WINDOW = 30  # seconds; Kubernetes' default of 300 would make the scale-down test wait five minutes


@dataclass
class RealStack:
    ctx: main_job.Context
    source: Path
    state: Path
    logs: Path
    console_text: io.StringIO

    @property
    def address(self) -> str:
        return self.ctx.facts["address"]

    def kubectl(self, *args: str) -> dict:
        return self.ctx.kube.get("-n", NAMESPACE, *args)

    def model_pods(self) -> list[dict]:
        selector = f"app.kubernetes.io/name=model-service,app.kubernetes.io/instance={MODEL}"
        pods = self.kubectl("pods", "-l", selector)["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def relaunch(self) -> str:
        """Run the whole main job again; returns what it printed."""
        self.console_text.seek(0)
        self.console_text.truncate()
        self.ctx = main_job.run("dev", console(self.console_text), self.logs, source=self.source, state=self.state)
        return self.console_text.getvalue()

    def select(self, name: str = "dev"):
        return stacks.select_stack(name, self.state, work_dir=self.source)

    def edit_model(self, **settings: object) -> None:
        """Change the model's config in the scratch stack file and `pulumi up` it (the main job's overrides stay)."""
        path = self.source / "Pulumi.dev.yaml"
        document = yaml.safe_load(path.read_text())
        model = document["config"][f"{PROJECT}:models"][0]
        for key, value in settings.items():
            model[key] = {**model.get(key, {}), **value} if isinstance(value, dict) else value
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        result = self.select().up(color="never")
        assert result.summary.result == "succeeded"


def console(sink: io.StringIO) -> Console:
    return Console(file=sink, width=200, force_terminal=False)


def sample() -> tuple[list[list[float]], list[int]]:
    """The main job's sample rows and their true labels."""
    from services.training.data import load_dataset

    dataset = load_dataset("breast_cancer")
    rows = [[float(v) for v in dataset.frame[dataset.feature_names].iloc[i]] for i in main_job.SAMPLE_ROWS]
    return rows, [int(dataset.frame[dataset.target].iloc[i]) for i in main_job.SAMPLE_ROWS]


def dump_logs(logs: Path) -> None:
    for log in sorted(logs.glob("*.log")):
        print(f"----- {log.name} (last 40 lines) -----\n" + "\n".join(log.read_text().splitlines()[-40:]))


def launch(root: Path, context: str):
    """Generator for the session fixture: launch, yield the RealStack, destroy."""
    source = stacks.scratch_project(
        root / "project", stacks=("dev", "staging", "prod"), context=context, local_nodes="real"
    )
    path = source / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"][f"{PROJECT}:namespace"] = NAMESPACE
    document["config"][f"{PROJECT}:models"][0]["autoscaling"] = {
        "enabled": True,
        "minReplicas": 1,
        "maxReplicas": 2,
        "scaleDownStabilizationSeconds": SCALE_DOWN_WINDOW,
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    state, logs = root / "state", root / "logs"
    state.mkdir(parents=True, exist_ok=True)
    printed = io.StringIO()
    # A state dir (file backend) of its own: the fake-node stacks of the other e2e modules have theirs.
    try:
        ctx = main_job.run("dev", console(printed), logs, source=source, state=state)
    except Exception:
        dump_logs(logs)
        raise
    real = RealStack(ctx, source, state, logs, printed)
    try:
        yield real
    finally:
        real.select().destroy(color="never")
