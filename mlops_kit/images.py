"""The kit's images from Python: built offline by `images/build.sh`, pushed to the local registry by
`images/publish.sh`, which answers with the digest each reference now names."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infra.config import StackConfig
from mlops_kit.errors import EnvironmentProblem
from mlops_kit.paths import REPO_ROOT

# The stack-config key of each platform image (its default is the kit registry's tag; a local run pins the digest).
CONFIG_KEYS = {
    "mlflow": "tracking.image",
    "postgres": "tracking.postgresImage",
    "prometheus": "monitoring.prometheusImage",
    "training": "retraining.image",
}


def platform_images(cfg: StackConfig) -> tuple[str, ...]:
    """The kit's images a stack runs besides its model services."""
    names = []
    if cfg.tracking.enabled:
        names.append("mlflow")
        if cfg.tracking.backend == "postgres":
            names.append("postgres")
    if cfg.monitoring.enabled:
        names.append("prometheus")
    if cfg.retraining.enabled and cfg.tracking.enabled and cfg.models:
        names.append("training")
    return tuple(names)


def _run(args: list[str], log: Path, env: dict[str, str] | None = None) -> str:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as sink:
        done = subprocess.run(
            args, cwd=REPO_ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=sink, text=True
        )
    if done.returncode != 0:
        raise EnvironmentProblem(f"`{' '.join(args)}` failed (exit {done.returncode}); see {log}")
    return done.stdout


def publish(names: tuple[str, ...], log: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Build (skipped when up to date) and push each image; returns name → registry reference by digest."""
    out = _run(["bash", "images/publish.sh", *names], log, env)
    published = {}
    for line in out.splitlines():
        name, _, reference = line.strip().partition(" ")
        if name in names and "@sha256:" in reference:
            published[name] = reference
    missing = [n for n in names if n not in published]
    if missing:
        raise EnvironmentProblem(f"images/publish.sh printed no digest for {', '.join(missing)}; see {log}")
    return published
