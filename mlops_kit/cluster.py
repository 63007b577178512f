"""A local Kubernetes control plane for end-to-end tests: kwok (`kwokctl --runtime binary`) with fake nodes.

Everything comes from the offline toolchain that `bash tools/build-toolchain.sh` builds into
``${MLOPS_KIT_CACHE:-~/.cache/mlops-kit}/toolchain/bin`` (kube-apiserver, kube-controller-manager, kube-scheduler,
kubectl, etcd, kwok, kwokctl); nothing is downloaded. The cluster is a set of local processes: it lives until they are
stopped (`down`) or the machine's session ends. `up` is idempotent and reuses a running cluster.

What the cluster offers:

* 3 fake nodes (8 CPU / 32Gi / 110 pods each, no taints) managed by the kwok controller: pods scheduled there are
  reported Running and Ready, but no container runs.
* PersistentVolumeClaims bind: a default StorageClass ``standard`` uses kube-controller-manager's built-in hostPath
  provisioner (``--enable-hostpath-provisioner``, provisioner ``kubernetes.io/host-path``), so claims without a class
  or with ``storageClassName: standard`` get a dynamically provisioned PersistentVolume (directories under /tmp).
* A kubeconfig of its own (``kubeconfig_path()``) with the stable context ``kwok-<name>``; the user's
  ~/.kube/config is left alone.

Command line: ``python -m mlops_kit.cluster up|down|status [--name NAME]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_NAME = "mlops-kit"
STORAGE_CLASS = "standard"
NODE_COUNT = 3
NODE_CPU = "8"
NODE_MEMORY = "32Gi"
NODE_PODS = "110"

_BINARIES = (
    "kwokctl",
    "kwok",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "etcd",
)
_BUILD_HINT = "build it with `make toolchain` (or `bash tools/build-toolchain.sh`)"


class ClusterError(RuntimeError):
    """A cluster operation failed; the message says why and what to do."""


@dataclass
class ClusterStatus:
    name: str
    exists: bool
    running: bool
    context: str
    kubeconfig: str
    server: str | None = None
    nodes: dict[str, bool] = field(default_factory=dict)  # node name -> Ready

    def as_dict(self) -> dict:
        return asdict(self)


# --- locations ------------------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("MLOPS_KIT_CACHE") or Path.home() / ".cache" / "mlops-kit")


def toolchain_dir() -> Path:
    return cache_dir() / "toolchain"


def bin_dir() -> Path:
    return toolchain_dir() / "bin"


def workdir() -> Path:
    """kwokctl's work directory (cluster configs, pki, logs, etcd data)."""
    return cache_dir() / "kwok"


def kubeconfig_path(name: str = DEFAULT_NAME) -> Path:
    """The kubeconfig that holds the context of every cluster made here (see `kubeconfig_context`)."""
    return workdir() / "kubeconfig"


def kubeconfig_context(name: str = DEFAULT_NAME) -> str:
    """The stable kubeconfig context name of cluster `name` (kwokctl's `kwok-<name>`)."""
    return f"kwok-{name}"


def _tool(name: str) -> str:
    path = bin_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ClusterError(f"the toolchain has no {name} at {path}: {_BUILD_HINT}.")
    return str(path)


def _check_toolchain() -> None:
    missing = [b for b in _BINARIES if not os.access(bin_dir() / b, os.X_OK)]
    if missing:
        raise ClusterError(
            f"the offline toolchain is not built (missing in {bin_dir()}: {', '.join(missing)}): {_BUILD_HINT}."
        )


# --- process helpers ------------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["KWOK_WORKDIR"] = str(workdir())
    # Local paths: kwokctl copies them instead of downloading.
    env["KWOK_KUBECTL_BINARY"] = str(bin_dir() / "kubectl")
    env.pop("KUBECONFIG", None)
    return env


def _run(
    args: list[str], *, timeout: float = 120, check: bool = True, stdin: str | None = None, what: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(args, env=_env(), input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise ClusterError(f"{what or ' '.join(args[:3])} did not finish within {timeout:.0f}s") from e
    except OSError as e:
        raise ClusterError(f"cannot run {args[0]}: {e}; {_BUILD_HINT}") from e
    if check and proc.returncode != 0:
        out = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise ClusterError(f"{what or ' '.join(args[:4])} failed (exit {proc.returncode}):\n{out}{_advice(out)}")
    return proc


def _advice(output: str) -> str:
    low = output.lower()
    if "address already in use" in low or "port is already allocated" in low or "bind:" in low:
        return (
            "\n-> a port the cluster needs is in use: stop what holds it (`ss -ltnp`), "
            "pass another port (up(..., port=N)), or `down()` a stale cluster first."
        )
    if "download" in low or ("http" in low and "dial" in low):
        return f"\n-> kwokctl tried to download something: the local toolchain must be complete ({_BUILD_HINT})."
    return ""


def _kubectl(name: str, *args: str, timeout: float = 60, check: bool = True, stdin: str | None = None):
    return _run(
        [_tool("kubectl"), "--kubeconfig", str(kubeconfig_path(name)), "--context", kubeconfig_context(name), *args],
        timeout=timeout,
        check=check,
        stdin=stdin,
        what=f"kubectl {' '.join(args[:2])}",
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- queries --------------------------------------------------------------------------------------------------------


def _exists(name: str) -> bool:
    if not (workdir() / "clusters" / name).is_dir():
        return False
    proc = _run([_tool("kwokctl"), "get", "clusters"], check=False, timeout=30)
    return name in proc.stdout.split()


def _healthy(name: str) -> bool:
    if not kubeconfig_path(name).exists():
        return False
    proc = _kubectl(name, "get", "--raw", "/readyz", "--request-timeout=5s", check=False, timeout=15)
    return proc.returncode == 0 and proc.stdout.strip() == "ok"


def _server(name: str) -> str | None:
    proc = _kubectl(
        name, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}", check=False, timeout=15
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _nodes(name: str) -> dict[str, bool]:
    proc = _kubectl(name, "get", "nodes", "-o", "json", check=False, timeout=30)
    if proc.returncode != 0:
        return {}
    ready = {}
    for item in json.loads(proc.stdout).get("items", []):
        conds = {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}
        ready[item["metadata"]["name"]] = conds.get("Ready") == "True"
    return ready


def status(name: str = DEFAULT_NAME) -> ClusterStatus:
    """Whether cluster `name` exists and answers, with its nodes' readiness."""
    _check_toolchain()
    st = ClusterStatus(
        name=name,
        exists=_exists(name),
        running=False,
        context=kubeconfig_context(name),
        kubeconfig=str(kubeconfig_path(name)),
    )
    if st.exists and _healthy(name):
        st.running = True
        st.server = _server(name)
        st.nodes = _nodes(name)
    return st


# --- lifecycle ------------------------------------------------------------------------------------------------------


def _node_manifest(i: int) -> dict:
    node = f"kwok-node-{i}"
    resources = {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": NODE_PODS, "ephemeral-storage": "200Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            # kwok's marker for nodes it fakes (the kwok controller manages them and keeps them Ready).
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": node,
                "node-role.kubernetes.io/agent": "",
                "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}",
            },
        },
        # No taint: the project's workloads schedule here unchanged.
        "spec": {},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "kwok",
                "kernelVersion": "kwok",
                "machineID": node,
                "systemUUID": node,
                "bootID": node,
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "containerRuntimeVersion": "kwok",
            },
            "phase": "Running",
        },
    }


def _storage_class_manifest() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        # kube-controller-manager's in-tree hostPath provisioner (enabled with --enable-hostpath-provisioner).
        "provisioner": "kubernetes.io/host-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def _apply_defaults(name: str) -> None:
    items = [_node_manifest(i) for i in range(NODE_COUNT)] + [_storage_class_manifest()]
    _kubectl(name, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def _wait_ready(name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        nodes = _nodes(name)
        if len(nodes) >= NODE_COUNT and all(nodes.values()):
            return
        if time.monotonic() > deadline:
            raise ClusterError(
                f"cluster {name}: nodes not Ready after {timeout:.0f}s ({nodes}); "
                f"see the kwok controller log: kwokctl --name {name} logs kwok-controller"
            )
        time.sleep(1)


def up(name: str = DEFAULT_NAME, *, port: int | None = None, timeout: float = 180) -> ClusterStatus:
    """Start (or reuse) cluster `name` with fake nodes and a default StorageClass; return its status.

    `port` pins the kube-apiserver port (default: a free one chosen by kwokctl).
    """
    _check_toolchain()
    workdir().mkdir(parents=True, exist_ok=True)
    with _lock(timeout):
        if _exists(name) and _healthy(name) and not _dead_components(name):
            _apply_defaults(name)
            _wait_ready(name, timeout=60)
            return status(name)
        if _exists(name):
            # Left over from an earlier session (its processes are gone) or half dead: start it again with the ports
            # it was given; if one of them is taken by now (or anything else fails), make it anew.
            _stop_quietly(name)
            proc = _run([_tool("kwokctl"), "start", "cluster", "--name", name], check=False, timeout=timeout)
            if proc.returncode != 0 or not _wait_healthy(name, 30) or _dead_components(name, settle=2):
                _delete(name)
        if not _exists(name):
            if port is not None and not _port_free(port):
                raise ClusterError(
                    f"port {port} for the kube-apiserver of cluster {name} is in use: "
                    "free it (`ss -ltnp`), pick another port, or pass port=None for a free one."
                )
            for attempt in (1, 2):
                _create(name, port=port, timeout=timeout)
                healthy = _wait_healthy(name, 60)
                dead = _dead_components(name, settle=2)
                if healthy and not dead:
                    break
                logs = _log_tails(name, dead or ["kube-apiserver"])
                _delete(name)
                if attempt == 2:
                    raise ClusterError(
                        f"cluster {name}: {', '.join(dead) or 'kube-apiserver'} did not come up "
                        f"(a port taken by another process or cluster?); ports in use: `ss -ltnp`.\n{logs}"
                    )
        _apply_defaults(name)
        _wait_ready(name, timeout=90)
        return status(name)


@contextlib.contextmanager
def _lock(timeout: float):
    """Serialise cluster operations of all processes on this machine: kwokctl picks "free" ports at create time, so two
    concurrent creates can pick the same port."""
    path = workdir() / ".lock"
    with open(path, "w") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"another mlops_kit.cluster operation has held {path} for {timeout:.0f}s; "
                        "wait for it or stop it"
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _pids(name: str) -> dict[str, int]:
    out = {}
    for pidfile in (workdir() / "clusters" / name / "pids").glob("*.pid"):
        try:
            out[pidfile.stem] = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            out[pidfile.stem] = -1
    return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_components(name: str, settle: float = 0) -> list[str]:
    """Components of cluster `name` whose process is gone (e.g. one that exited on a port clash right after start)."""
    if settle:
        time.sleep(settle)
    pids = _pids(name)
    if not pids:
        return ["all components"]
    return sorted(c for c, pid in pids.items() if not _alive(pid))


def _stop_quietly(name: str) -> None:
    _run([_tool("kwokctl"), "stop", "cluster", "--name", name], check=False, timeout=60)


def _log_tails(name: str, components: list[str], lines: int = 5) -> str:
    out = []
    for c in components:
        log = workdir() / "clusters" / name / "logs" / f"{c}.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log} (last {lines} lines)\n" + "\n".join(t[:400] for t in tail))
    return "\n".join(out)


def _wait_healthy(name: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(name):
            return True
        time.sleep(1)
    return False


def _create(name: str, *, port: int | None, timeout: float) -> None:
    b = bin_dir()
    args = [
        _tool("kwokctl"),
        "create",
        "cluster",
        "--name",
        name,
        "--runtime",
        "binary",
        "--kube-apiserver-binary",
        str(b / "kube-apiserver"),
        "--kube-controller-manager-binary",
        str(b / "kube-controller-manager"),
        "--kube-scheduler-binary",
        str(b / "kube-scheduler"),
        "--kwok-controller-binary",
        str(b / "kwok"),
        "--etcd-binary",
        str(b / "etcd"),
        "--kubeconfig",
        str(kubeconfig_path(name)),
        "--extra-args",
        "kube-controller-manager=enable-hostpath-provisioner=true",
        "--quiet-pull",
        "--wait",
        "60s",
        "--timeout",
        f"{int(timeout)}s",
    ]
    if port is not None:
        args += ["--kube-apiserver-port", str(port)]
    proc = _run(args, check=False, timeout=timeout + 30, what=f"kwokctl create cluster {name}")
    if proc.returncode != 0:
        out = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
        # Do not leave a half-made cluster behind: the next `up` would try to reuse it.
        _run([_tool("kwokctl"), "delete", "cluster", "--name", name], check=False, timeout=60)
        raise ClusterError(f"kwokctl create cluster {name} failed (exit {proc.returncode}):\n{out}{_advice(out)}")


def down(name: str = DEFAULT_NAME) -> None:
    """Stop and delete cluster `name` (no error if there is none)."""
    if not (workdir() / "clusters" / name).exists():
        return
    if not os.access(bin_dir() / "kwokctl", os.X_OK):
        raise ClusterError(f"cannot delete cluster {name}: kwokctl is missing; {_BUILD_HINT}.")
    with _lock(120):
        _delete(name)


def _delete(name: str) -> None:
    pids = [p for p in _pids(name).values() if p > 0]
    _run([_tool("kwokctl"), "delete", "cluster", "--name", name], timeout=120, what=f"kwokctl delete cluster {name}")
    # kwokctl signals the processes and returns; wait until they are gone so their ports are free again.
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)


# --- command line ---------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlops_kit.cluster", description=__doc__.split("\n")[0])
    ap.add_argument("action", choices=["up", "down", "status", "context", "kubeconfig"])
    ap.add_argument("--name", default=DEFAULT_NAME)
    ap.add_argument("--port", type=int, default=None, help="kube-apiserver port for `up` (default: a free one)")
    a = ap.parse_args(argv)
    try:
        if a.action == "up":
            t = time.monotonic()
            st = up(a.name, port=a.port)
            print(json.dumps(st.as_dict(), indent=2))
            print(
                f"cluster {a.name} up in {time.monotonic() - t:.1f}s; "
                f"use: kubectl --kubeconfig {st.kubeconfig} --context {st.context} get nodes",
                file=sys.stderr,
            )
        elif a.action == "down":
            down(a.name)
        elif a.action == "status":
            st = status(a.name)
            print(json.dumps(st.as_dict(), indent=2))
            return 0 if st.running else 3
        elif a.action == "context":
            print(kubeconfig_context(a.name))
        elif a.action == "kubeconfig":
            print(kubeconfig_path(a.name))
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
