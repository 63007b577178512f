"""The local cluster with a real node, measured: `cluster up` to node Ready, `make up`'s main job (launch) cold and
warm to the first prediction, and serving through the model's Service on the real node against the same image run
directly by docker, in one run. Figures and ratios are printed and written to bench/results/local-cluster-*.json;
nothing is asserted (the machines are noisy).

    .venv/bin/python bench/local_cluster.py [--seconds 10] [--keep]

Runs on a cluster of its own (`mlops-kit-bench`), never the one `make up` deploys to; load goes only to the bench
cluster's Service address and to a loopback-published container, bounded by --seconds per run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rich.console import Console  # noqa: E402
from serving import container, docker_client, wrk  # noqa: E402

from mlops_kit import localcluster, main_job, paths, stacks  # noqa: E402
from services.training.data import load_dataset  # noqa: E402

CLUSTER = "mlops-kit-bench"


def timed(label: str, fn, results: dict) -> object:
    start = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - start, 2)
    print(f"{label:<44} {results[label]:8.2f} s", flush=True)
    return value


def body_file(directory: Path) -> Path:
    dataset = load_dataset("breast_cancer")
    row = [float(v) for v in dataset.frame[dataset.feature_names].iloc[0]]
    path = directory / "one-row.json"
    path.write_text(json.dumps({"instances": [row]}))
    return path


def node_memory(cluster: str) -> dict[str, float]:
    """Resident memory (MiB) of each real-node component, read from /proc by the PID the kit recorded."""
    from mlops_kit.localcluster import node, processes
    from mlops_kit.localcluster.layout import Layout

    layout = Layout.for_cluster(cluster)
    memory = {}
    for name, spec in node.specs(layout).items():
        pid = processes.running_pid(layout, spec.component)
        if pid:
            rss = next(
                line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS")
            )
            memory[name] = round(int(rss.split()[1]) / 1024, 1)
    return memory


def pod_start_seconds(kube, namespace: str) -> dict[str, float]:
    """Per running pod: seconds from its creation to Ready (image pull, container start, readiness probe)."""
    starts = {}
    for pod in kube.get("-n", namespace, "pods")["items"]:
        ready = next((c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"), None)
        if ready and ready["status"] == "True":
            created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            became = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
            starts[pod["metadata"]["labels"].get("app.kubernetes.io/name", pod["metadata"]["name"])] = (
                became - created
            ).total_seconds()
    return starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    parser.add_argument("--keep", action="store_true", help="leave the bench cluster running")
    args = parser.parse_args()
    results: dict = {"timings_s": {}, "serving": {}}
    t = results["timings_s"]
    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        try:
            localcluster.down(CLUSTER)
            state = timed("cluster up from stopped (node Ready)", lambda: localcluster.up(CLUSTER), t)
            timed("cluster up again (idempotent)", lambda: localcluster.up(CLUSTER), t)
            source = stacks.scratch_project(tmp_path / "project", ("dev",), paths.local_context(CLUSTER))
            run = lambda: main_job.run("dev", quiet, tmp_path / "logs", source, tmp_path / "state")  # noqa: E731
            timed("launch, new cluster (train + image + up)", run, t)
            ctx = timed("launch again (no changes)", run, t)
            address = ctx.facts["address"]
            image = ctx.facts["serving"]
            body = body_file(tmp_path)
            for concurrency in (8, 32):
                through_service = wrk(f"{address}/predict", body, concurrency, args.seconds)
                results["serving"][f"service c={concurrency}"] = through_service
            docker = docker_client()
            with container(docker, image, workers=1) as server:
                for concurrency in (8, 32):
                    results["serving"][f"docker c={concurrency}"] = wrk(
                        f"{server.url}/predict", body, concurrency, args.seconds
                    )
            results["node"] = {"node_ip": state.node_ip, "service_cidr": state.service_cidr}
            results["node_memory_mib"] = node_memory(CLUSTER)
            results["pod_start_s"] = pod_start_seconds(ctx.kube, ctx.cfg.namespace)
        finally:
            if not args.keep:
                with contextlib.suppress(Exception):
                    localcluster.down(CLUSTER)
    print()
    for figures in results["serving"].values():
        figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
        figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    for concurrency in (8, 32):
        svc, direct = results["serving"][f"service c={concurrency}"], results["serving"][f"docker c={concurrency}"]
        print(
            f"c={concurrency:<3} Service on the real node {svc['rps']:8.0f} rps p50 {svc['p50_us'] / 1000:6.1f} ms "
            f"p99 {svc['p99_us'] / 1000:6.1f} ms | docker {direct['rps']:8.0f} rps p99 {direct['p99_us'] / 1000:6.1f} ms | "
            f"ratio {svc['rps'] / max(direct['rps'], 1e-9):.2f}x (errors {svc['errors']}/{direct['errors']})"
        )
    print(f"launch warm / cold: {t['launch again (no changes)'] / t['launch, new cluster (train + image + up)']:.2f}")
    print(
        "pods, creation to Ready (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results.get("pod_start_s", {}).items())
    )
    print(
        "node components, resident MiB: " + ", ".join(f"{k} {v}" for k, v in results.get("node_memory_mib", {}).items())
    )
    out = ROOT / "bench" / "results" / f"local-cluster-{datetime.now():%Y-%m-%dT%H%M}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
