"""Rollouts measured on real pods, per strategy: how long a promotion takes, how many requests fail during it, the
p99 latency during the rollout against the steady state before it (the ratio is the figure), and the time from a
rollback to the last answer of the version rolled back. One run, one machine, one load; nothing is asserted.

    .venv/bin/python bench/rollouts.py [--steady-seconds 30] [--rps 12] [--keep]

On a cluster of its own (`mlops-kit-bench`) with the three stacks of a scratch project on its real node: dev
(rolling, the main job's launch), staging (canary 50 % → 100 %, two 20-second measurements per step), prod
(blue-green). The candidate is trained in dev's MLflow and built the way a user builds one; the rolled-back canary is
a model too slow for staging's p99 limit (a 4000-tree random forest), so its rollback is the analysis's own. Load is
a bounded rate of one-row requests of held-out data to each stack's Service address on the bench node; every answer
carries the model version that gave it (X-Model-Version), which is how "all traffic on the old version" is seen.
Figures go to bench/results/rollouts-<date>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from rich.console import Console  # noqa: E402

from infra.config import PROJECT  # noqa: E402
from mlops_kit import images, localcluster, main_job, paths, stacks  # noqa: E402
from mlops_kit.analysis import PrometheusAnalysis  # noqa: E402
from mlops_kit.errors import KitError  # noqa: E402
from mlops_kit.model_registry import MlflowRegistry  # noqa: E402
from mlops_kit.promotion import promote, rollback  # noqa: E402
from mlops_kit.traffic import Load, Outcome, held_out_rows, through_port_forward  # noqa: E402

CLUSTER = "mlops-kit-bench"
MODEL = "breast-cancer"
P99_LIMIT = 0.25  # staging's analysis limit, seconds: the slow candidate is over it
NAMESPACES = {"dev": "mlops-bench-dev", "staging": "mlops-bench-staging", "prod": "mlops-bench-prod"}


def configure(source: Path, stack: str, facts: dict[str, Any], **model: Any) -> None:
    """Small stacks on the bench node: no MLflow or retraining beside dev's, fast scrapes and analysis."""
    path = source / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    config = document["config"]
    config[f"{PROJECT}:namespace"] = NAMESPACES[stack]
    if stack == "dev":
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return
    config[f"{PROJECT}:protectStateful"] = False
    config[f"{PROJECT}:tracking"] = {"enabled": False}
    config[f"{PROJECT}:retraining"] = {"enabled": False}
    config[f"{PROJECT}:monitoring"] = {
        "scrapeInterval": "5s",
        "storageSize": "1Gi",
        "prometheusImage": facts["images"]["prometheus"],
    }
    [entry] = config[f"{PROJECT}:models"]
    entry.update(
        image={"ref": facts["serving"]},
        modelVersion=facts["champion"],
        autoscaling={"enabled": False},
        analysis={"intervalSeconds": 20, "measurements": 2, "minRequests": 10, "maxP99Seconds": P99_LIMIT},
        **model,
    )
    path.write_text(yaml.safe_dump(document, sort_keys=False))


class Bench:
    def __init__(self, ctx: main_job.Context, source: Path, state: Path, logs: Path, rps: float, steady: float):
        self.ctx, self.source, self.state, self.logs = ctx, source, state, logs
        self.rps, self.steady = rps, steady
        self.payloads = [{"instances": [row]} for row in held_out_rows("breast_cancer")]
        self.printed: list[tuple[float, str]] = []

    def select(self, name: str):
        return stacks.select_stack(name, self.state, work_dir=self.source)

    def printer(self, line: str) -> None:
        self.printed.append((time.monotonic(), line))

    def address(self, stack: str) -> str:
        service = self.ctx.kube.get("-n", NAMESPACES[stack], "service", MODEL)
        return f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"

    def candidate(self, estimator: str, params: dict[str, Any]) -> tuple[str, str]:
        """A version trained in dev's MLflow and its serving image, pushed: (version, image by digest)."""
        from services.training.config import TrainingConfig
        from services.training.pipeline import run_training

        with self.ctx.kube.port_forward(NAMESPACES["dev"], "svc/mlflow", 5000) as port:
            uri = f"http://127.0.0.1:{port}"
            with (self.logs / "training.log").open("a") as log, contextlib.redirect_stdout(log):
                result = run_training(TrainingConfig(model_name=MODEL, estimator=estimator, params=params), uri)
            env = {"MODEL_NAME": MODEL, "MODEL_VERSION": str(result.model_version), "MLFLOW_TRACKING_URI": uri}
            image = images.publish(("serving",), self.logs / "candidates.log", env)["serving"]
        return str(result.model_version), image

    def release_to_dev(self, version: str, image: str) -> None:
        selected = self.select("dev")
        overrides = stacks.local_overrides(selected.workspace, "dev")
        selected.set_local_overrides({**overrides, "models[0].image.ref": image, "models[0].modelVersion": version})
        selected.up(color="never")

    @contextlib.contextmanager
    def measured(self, stack: str) -> Iterator[dict[str, Any]]:
        """Load on the stack's Service: `steady` seconds before the block (the baseline), the block itself (the
        rollout), then figures into the yielded dict."""
        figures: dict[str, Any] = {}
        load = Load(f"{self.address(stack)}/predict", clients=2, max_requests=100_000, max_seconds=1800,
                    rps=self.rps, payloads=self.payloads)  # fmt: skip
        with load:
            steady_from = time.monotonic()
            time.sleep(self.steady)
            start = time.monotonic()
            failed_before = load.outcome.failed
            try:
                yield figures
            finally:
                end = time.monotonic()
                time.sleep(2)  # requests in flight at the end belong to the rollout
        outcome = load.outcome
        figures.update(
            seconds=round(end - start, 1),
            requests=outcome.sent,
            failed_during=outcome.failed - failed_before,
            statuses={str(k): v for k, v in outcome.statuses.items()},
            transport_errors=dict(outcome.errors),
            p99_steady_ms=_ms(outcome.latency_quantile(0.99, steady_from, start)),
            p99_rollout_ms=_ms(outcome.latency_quantile(0.99, start, end)),
        )
        figures["p99_ratio"] = _ratio(figures["p99_rollout_ms"], figures["p99_steady_ms"])
        figures["_outcome"], figures["_start"] = outcome, start


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def last_answer_of(outcome: Outcome, version: str, after: float) -> float | None:
    """Seconds from `after` to the last answer the version `version` gave (None: it gave none after `after`)."""
    ends = [s.ended for s in outcome.samples if s.model_version == version and s.ended >= after]
    return round(max(ends) - after, 2) if ends else None


def timed(fn: Callable[[], Any]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    localcluster.up(CLUSTER)
    source = stacks.scratch_project(tmp / "project", ("dev", "staging", "prod"), paths.local_context(CLUSTER), "real")
    configure(source, "dev", {})
    logs, state = tmp / "logs", tmp / "state"
    ctx = main_job.run("dev", quiet, logs, source=source, state=state)
    bench = Bench(ctx, source, state, logs, args.rps, args.steady_seconds)
    first_version, first_image = ctx.facts["champion"], ctx.facts["serving"]
    configure(source, "staging", ctx.facts, replicas=2, canary={"steps": [50, 100], "weight": 0})
    # Four stacks' pods share one 2-core node: prod's own sizes (1 CPU requested per pod) would leave green unscheduled.
    small = {"cpuRequest": "100m", "memoryRequest": "256Mi", "cpuLimit": "1", "memoryLimit": "512Mi"}
    configure(source, "prod", ctx.facts, replicas=1, strategy="blue-green", blueGreen={"activeColor": "blue"},
              resources=small)  # fmt: skip
    results: dict[str, Any] = {"rps": args.rps, "steady_seconds": args.steady_seconds}
    try:
        for stack in ("staging", "prod"):
            bench.select(stack).up(color="never")
        version, image = bench.candidate("logistic_regression", {"C": 0.5})

        # rolling (dev): the update to the candidate, then back to the first release (its only rollback).
        with bench.measured("dev") as rolling:
            bench.release_to_dev(version, image)
        with bench.measured("dev") as rolled_back:
            bench.release_to_dev(first_version, first_image)
        rolling["rollback_seconds"] = round(rolled_back["seconds"], 1)
        rolling["rollback_to_last_new_answer_s"] = last_answer_of(
            rolled_back["_outcome"], version, rolled_back["_start"]
        )
        rolling["rollback_failed"] = rolled_back["failed_during"]
        bench.release_to_dev(version, image)
        results["rolling"] = rolling

        with bench.ctx.kube.port_forward(NAMESPACES["dev"], "svc/mlflow", 5000) as mlflow_port:
            registry = MlflowRegistry(f"http://127.0.0.1:{mlflow_port}")
            # canary (staging): a healthy promotion through 50 % and 100 %.
            with (
                bench.ctx.kube.port_forward(NAMESPACES["staging"], "svc/prometheus", 9090) as port,
                bench.measured("staging") as canary,
            ):
                observer = PrometheusAnalysis(f"http://127.0.0.1:{port}")
                promote("dev", "staging", MODEL, bench.select, observer, bench.printer, source, registry=registry)
            results["canary"] = canary

            # blue-green (prod): deploy to green, judge it on preview traffic, flip; then roll back.
            traffic = through_port_forward(bench.ctx.kube, 3000, held_out_rows("breast_cancer"))
            with (
                bench.ctx.kube.port_forward(NAMESPACES["prod"], "svc/prometheus", 9090) as port,
                bench.measured("prod") as blue_green,
            ):
                observer = PrometheusAnalysis(f"http://127.0.0.1:{port}")
                promote("staging", "prod", MODEL, bench.select, observer, bench.printer, source,
                        traffic=traffic, registry=registry)  # fmt: skip
            with bench.measured("prod") as flipped_back:
                rollback("prod", MODEL, bench.select, bench.printer, source, registry=registry)
            blue_green["rollback_seconds"] = flipped_back["seconds"]
            blue_green["rollback_to_last_new_answer_s"] = last_answer_of(
                flipped_back["_outcome"], version, flipped_back["_start"]
            )
            blue_green["rollback_failed"] = flipped_back["failed_during"]
            results["blue_green"] = blue_green

            # canary rolled back by its analysis: a candidate over staging's p99 limit.
            slow_version, slow_image = bench.candidate("random_forest", {"n_estimators": 4000})
            bench.release_to_dev(slow_version, slow_image)
            with (
                bench.ctx.kube.port_forward(NAMESPACES["staging"], "svc/prometheus", 9090) as port,
                bench.measured("staging") as refused,
            ):
                observer = PrometheusAnalysis(f"http://127.0.0.1:{port}")
                with contextlib.suppress(KitError):
                    promote("dev", "staging", MODEL, bench.select, observer, bench.printer, source, registry=registry)
            failed_at = next((t for t, line in bench.printed if "analysis of track canary: FAILED" in line), None)
            refused["rollback_to_last_new_answer_s"] = (
                last_answer_of(refused["_outcome"], slow_version, failed_at) if failed_at else None
            )
            refused["analysis_failed"] = failed_at is not None
            results["canary_rolled_back"] = refused
    finally:
        (logs / "promotion.log").write_text("".join(line for _, line in bench.printed))
        for stack in ("prod", "staging", "dev"):
            with contextlib.suppress(Exception):
                bench.select(stack).destroy(color="never")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steady-seconds", type=float, default=30.0, help="baseline load before each rollout")
    parser.add_argument("--rps", type=float, default=12.0, help="requests/s to the stack's Service")
    parser.add_argument("--keep", action="store_true", help="leave the bench cluster running")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            results = run(args, Path(tmp))
        finally:
            if not args.keep:
                with contextlib.suppress(Exception):
                    localcluster.down(CLUSTER)
    for figures in results.values():
        if isinstance(figures, dict):
            for private in ("_outcome", "_start"):
                figures.pop(private, None)
    print(f"\n{'strategy':<20} {'promotion':>10} {'failed':>7} {'p99 steady':>11} {'p99 rollout':>12} {'ratio':>6} "
          f"{'rollback → old only':>20}")  # fmt: skip
    for name in ("rolling", "canary", "blue_green", "canary_rolled_back"):
        f = results.get(name)
        if not f:
            continue
        back = f.get("rollback_to_last_new_answer_s")
        print(
            f"{name:<20} {f['seconds']:>9.1f}s {f['failed_during']:>7} {f['p99_steady_ms'] or 0:>9.1f}ms "
            f"{f['p99_rollout_ms'] or 0:>10.1f}ms {f['p99_ratio'] or 0:>5.2f}x "
            f"{'-' if back is None else f'{back:.2f} s':>20}"
        )
    out = ROOT / "bench" / "results" / f"rollouts-{datetime.now():%Y-%m-%dT%H%M}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
