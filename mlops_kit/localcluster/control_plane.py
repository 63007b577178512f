"""The control plane: kwokctl's binary runtime (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the
kwok controller) from the offline toolchain, created from the configuration in ``kwok_config`` (what the API server
is started with and why, the fake nodes), then started, checked, repaired or deleted here.

PersistentVolumeClaims bind through the node's local-volume provisioner (StorageClass ``standard``, provisioner.py;
started with the node).

kwokctl picks free ports at create time; concurrent creates can pick the same one, so the callers hold a file lock
(see ``lock``), and a create whose components do not all stay up is deleted and tried once more.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from mlops_kit import paths
from mlops_kit.errors import EnvironmentProblem
from mlops_kit.localcluster import processes, provisioner
from mlops_kit.localcluster.kwok_config import CONFIG_MARK, NODE_COUNT, cluster_dir, fake_node, kwokctl_configuration
from mlops_kit.localcluster.layout import Layout

BINARIES = ("kwokctl", "kwok", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{paths.toolchain_bin()}{os.pathsep}{e.get('PATH', '')}"
    e["KWOK_WORKDIR"] = str(paths.kwok_workdir())
    e["KWOK_KUBECTL_BINARY"] = str(paths.tool("kubectl"))  # a local path: copied, never downloaded
    e.pop("KUBECONFIG", None)
    return e


def kwokctl(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return processes.run([str(paths.tool("kwokctl")), *args], what=f"kwokctl {' '.join(args[:2])}", timeout=timeout,
                         check=check, env=env())  # fmt: skip


def kubectl(layout: Layout, *args: str, timeout: float = 60, check: bool = True, stdin: str | None = None):
    return processes.run(
        [str(paths.tool("kubectl")), "--kubeconfig", str(paths.local_kubeconfig()), "--context", layout.context, *args],
        what=f"kubectl {' '.join(args[:2])}", timeout=timeout, check=check, stdin=stdin,
    )  # fmt: skip


# --- queries --------------------------------------------------------------------------------------------------------


def exists(layout: Layout) -> bool:
    if not cluster_dir(layout).is_dir():
        return False
    return layout.name in kwokctl("get", "clusters", check=False, timeout=30).stdout.split()


def configured_by_kit(layout: Layout) -> bool:
    """Whether the existing cluster was made from this module's configuration (older ones lack the node's flags)."""
    try:
        docs = list(yaml.safe_load_all((cluster_dir(layout) / "kwok.yaml").read_text()))
    except (OSError, yaml.YAMLError):
        return False
    return any(
        isinstance(d, dict) and d.get("kind") == "KwokctlConfiguration"
        and CONFIG_MARK in (d.get("metadata") or {}).get("annotations", {})
        for d in docs
    )  # fmt: skip


def healthy(layout: Layout) -> bool:
    if not paths.local_kubeconfig().exists():
        return False
    done = kubectl(layout, "get", "--raw", "/readyz", "--request-timeout=5s", check=False, timeout=15)
    return done.returncode == 0 and done.stdout.strip() == "ok"


def server(layout: Layout) -> str | None:
    done = kubectl(layout, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}", check=False)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def api_port(layout: Layout) -> int:
    url = server(layout)
    if not url:
        raise EnvironmentProblem(f"cluster {layout.name}: no API server address in {paths.local_kubeconfig()}")
    return int(url.rsplit(":", 1)[1])


def nodes(layout: Layout) -> list[dict]:
    done = kubectl(layout, "get", "nodes", "-o", "json", check=False, timeout=30)
    return json.loads(done.stdout).get("items", []) if done.returncode == 0 else []


def dead_components(layout: Layout) -> list[str]:
    pids = {}
    for f in (cluster_dir(layout) / "pids").glob("*.pid"):
        try:
            pids[f.stem] = int(f.read_text().strip())
        except (OSError, ValueError):
            pids[f.stem] = -1
    if not pids:
        return ["all components"]
    return sorted(c for c, pid in pids.items() if pid <= 0 or not Path(f"/proc/{pid}").exists())


def log_tails(layout: Layout, components: list[str], lines: int = 5) -> str:
    out = []
    for c in components:
        log = cluster_dir(layout) / "logs" / f"{c}.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log} (last {lines} lines)\n" + "\n".join(t[:400] for t in tail))
    return "\n".join(out)


# --- lifecycle ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def lock(timeout: float = 300) -> Iterator[None]:
    """One cluster operation at a time on this machine (kwokctl's port choice, the host's network, sysctls)."""
    path = paths.kwok_workdir() / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        got = processes.wait_for(lambda: _try_lock(f), timeout=timeout, interval=0.5)
        if not got:
            raise EnvironmentProblem(
                f"another `mlops-kit cluster` command has held {path} for {timeout:.0f} s: wait for it or stop it"
            )
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _try_lock(f) -> bool:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def ensure(layout: Layout, *, port: int | None = None, timeout: float = 180) -> None:
    """Running, healthy, from the kit's configuration: reuse, restart (same ports) or make anew."""
    if exists(layout) and not configured_by_kit(layout):
        delete(layout)  # made by an older kit: it lacks the flags the real node needs
    if exists(layout) and healthy(layout) and not dead_components(layout):
        return
    if exists(layout):
        kwokctl("stop", "cluster", "--name", layout.name, check=False, timeout=60)
        started = kwokctl("start", "cluster", "--name", layout.name, check=False, timeout=timeout).returncode == 0
        if started and processes.wait_for(lambda: healthy(layout), timeout=30) and not _settled_dead(layout):
            return
        delete(layout)
    for attempt in (1, 2):
        create(layout, port=port, timeout=timeout)
        ok = processes.wait_for(lambda: healthy(layout), timeout=60)
        dead = _settled_dead(layout)
        if ok and not dead:
            return
        logs = log_tails(layout, dead or ["kube-apiserver"])
        delete(layout)
        if attempt == 2:
            raise EnvironmentProblem(
                f"cluster {layout.name}: {', '.join(dead) or 'kube-apiserver'} did not come up (a port taken by "
                f"another process or cluster? see `ss -ltnp`).\n{logs}"
            )


def _settled_dead(layout: Layout) -> list[str]:
    """Components that died right after start (e.g. on a port clash): still dead after a short settling time."""
    processes.wait_for(lambda: bool(dead_components(layout)), timeout=2)
    return dead_components(layout)


def create(layout: Layout, *, port: int | None, timeout: float) -> None:
    config = paths.kwok_workdir() / f"{layout.name}.kwokctl.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(kwokctl_configuration(layout, port=port), sort_keys=False))
    done = kwokctl("--config", str(config), "create", "cluster", "--name", layout.name, "--kubeconfig",
                   str(paths.local_kubeconfig()), "--wait", "60s", "--timeout", f"{int(timeout)}s",
                   timeout=timeout + 30, check=False)  # fmt: skip
    if done.returncode != 0:
        out = (done.stderr.strip() or done.stdout.strip())[-3000:]
        kwokctl("delete", "cluster", "--name", layout.name, check=False, timeout=60)
        raise EnvironmentProblem(f"kwokctl create cluster {layout.name} failed (exit {done.returncode}):\n{out}")


def apply_defaults(layout: Layout) -> None:
    """Fake nodes and the default StorageClass (the node's local-volume provisioner, provisioner.py). A class of
    the same name from an older kit (the in-tree hostPath provisioner) is replaced: its provisioner is immutable."""
    sc = provisioner.storage_class()
    done = kubectl(layout, "get", "storageclass", sc["metadata"]["name"], "-o", "jsonpath={.provisioner}", check=False)
    if done.returncode == 0 and done.stdout.strip() not in ("", sc["provisioner"]):
        kubectl(layout, "delete", "storageclass", sc["metadata"]["name"])
    items = [fake_node(i) for i in range(NODE_COUNT)] + [sc]
    kubectl(layout, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def delete(layout: Layout) -> None:
    pids = []
    for f in (cluster_dir(layout) / "pids").glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(f.read_text().strip()))
    kwokctl("delete", "cluster", "--name", layout.name, timeout=120)
    # kwokctl signals the processes and returns; wait until they are gone so their ports are free again.
    processes.wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in pids), timeout=30)
