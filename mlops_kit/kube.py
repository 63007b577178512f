"""kubectl from the CLI side: JSON reads and port-forwards on 127.0.0.1, against one kubeconfig context.

The toolchain's kubectl (same version as the control plane) is used when it is built, so nothing depends on whatever
kubectl a machine has on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_kit.errors import EnvironmentProblem
from mlops_kit.paths import tool
from mlops_kit.waiting import GaveUp, wait_until


def kubectl_binary() -> str:
    built = tool("kubectl")
    found = str(built) if built.is_file() else shutil.which("kubectl")
    if not found:
        raise EnvironmentProblem("kubectl not found: build the toolchain with `make toolchain`")
    return found


@dataclass(frozen=True)
class Kube:
    kubeconfig: Path
    context: str

    @classmethod
    def for_stack(cls, cfg: Any) -> Kube:
        """The cluster a StackConfig deploys to: the kit's local cluster unless `cluster.*` names another."""
        from mlops_kit.paths import expand, local_context, local_kubeconfig

        cluster = cfg.cluster
        if cluster.kubeconfig:
            kubeconfig = Path(expand(cluster.kubeconfig))
        elif cluster.is_local or not cluster.context:
            kubeconfig = local_kubeconfig()
        else:
            kubeconfig = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
        return cls(kubeconfig, cluster.context or local_context())

    def command(self, *args: str) -> list[str]:
        return [kubectl_binary(), "--kubeconfig", str(self.kubeconfig), "--context", self.context, *args]

    def run(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise EnvironmentProblem(f"kubectl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.run("get", *args, "-o", "json"))

    @contextlib.contextmanager
    def port_forward(self, namespace: str, target: str, port: int, timeout: float = 60) -> Iterator[int]:
        """Forward a free 127.0.0.1 port to `target` (e.g. svc/mlflow) port `port`; yields the local port."""
        process = subprocess.Popen(
            self.command("-n", namespace, "port-forward", "--address", "127.0.0.1", target, f":{port}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            lines: list[str] = []

            def forwarded() -> int | None:
                line = process.stdout.readline()  # blocks until kubectl says where it listens (or exits)
                lines.append(line)
                match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                return int(match.group(1)) if match else None

            try:
                local = wait_until(forwarded, timeout=timeout, interval=0, alive=lambda: process.poll() is None)
            except GaveUp:
                error = process.stderr.read() if process.poll() is not None and process.stderr else ""
                raise EnvironmentProblem(
                    f"kubectl port-forward {target} in {namespace} did not start: {(error or ''.join(lines)).strip()}"
                ) from None
            yield local
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            if process.poll() is None:
                process.kill()
