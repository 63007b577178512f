"""Deploy-path timings with the real engine on the local cluster, against a minimal baseline in the same script.

    python bench/deploy.py            # needs `make toolchain`; starts the local cluster if needed

Prints: warm toolchain check; for a one-Namespace Pulumi program (the baseline: CLI + language host + provider start)
and for the dev stack: preview (warm), up from empty until everything is Ready, a no-op up, destroy; and the ratios.
Targets (issue #4): warm check ≤ 10 s, preview dev warm ≤ 10 s, up dev from empty ≤ 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = "mlops-kit-bench"  # its own cluster: never collides with what `make up` deployed
sys.path.insert(0, str(ROOT))

from mlops_kit import localcluster, paths, stacks  # noqa: E402

BASELINE_PROGRAM = """
import pulumi, pulumi_kubernetes as k8s
from infra.preflight import check_reachable
provider = k8s.Provider("cluster", context="{context}", kubeconfig=str(check_reachable(None, "{context}")))
k8s.core.v1.Namespace("bench", metadata={{"name": "bench-baseline"}}, opts=pulumi.ResourceOptions(provider=provider))
"""


def timed(label: str, action, results: dict) -> None:
    start = time.perf_counter()
    action()
    results[label] = round(time.perf_counter() - start, 2)
    print(f"  {label:<32} {results[label]:>7.2f} s", flush=True)


def baseline_project(work: Path) -> Path:
    (work / "baseline").mkdir(parents=True)
    (work / "baseline" / "__main__.py").write_text(
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        + BASELINE_PROGRAM.format(context=paths.local_context(CLUSTER))
    )
    (work / "Pulumi.yaml").write_text(
        f"name: bench-baseline\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\nmain: baseline/\n"
    )
    return work


def main() -> None:
    results: dict[str, float] = {}
    print("toolchain")
    timed(
        "warm toolchain check",
        lambda: subprocess.run(["bash", str(ROOT / "tools/build-toolchain.sh")], check=True, capture_output=True),
        results,
    )
    localcluster.up(CLUSTER)
    quiet = lambda _line: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        for label, work in (
            ("baseline", baseline_project(Path(tmp, "b"))),
            ("dev", stacks.scratch_project(Path(tmp, "p"), ("dev",), paths.local_context(CLUSTER))),
        ):
            print(label)
            stack = stacks.select_stack(
                "dev" if label == "dev" else "bench", Path(tmp, "state"), work_dir=work, ensure_secrets=label == "dev"
            )
            stack.preview(on_output=quiet)  # first preview warms plugin and module caches
            timed(f"{label}: preview (warm)", partial(stack.preview, on_output=quiet), results)
            timed(f"{label}: up from empty", partial(stack.up, on_output=quiet), results)
            timed(f"{label}: up, no changes", partial(stack.up, on_output=quiet), results)
            timed(f"{label}: destroy", partial(stack.destroy, on_output=quiet), results)
    localcluster.down(CLUSTER)
    print("ratios (dev stack / one-Namespace baseline)")
    for step in ("preview (warm)", "up from empty", "up, no changes", "destroy"):
        print(f"  {step:<32} {results[f'dev: {step}'] / results[f'baseline: {step}']:>7.2f}x")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"deploy-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"seconds": results, "load": load}, indent=1)
    )


if __name__ == "__main__":
    main()
