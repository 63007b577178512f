"""What `cluster up` needs from the machine, checked before anything is created.

Each failure is one line of advice naming the fix (an ``EnvironmentProblem``, or a ``UserError`` for a name that
collides with a running cluster). Missing Debian packages are installed (``apt-get install -y``), as the kit's other
scripts do; missing toolchain binaries are built by ``make toolchain``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops_kit import paths
from mlops_kit.errors import EnvironmentProblem, UserError
from mlops_kit.localcluster import host, processes
from mlops_kit.localcluster.control_plane import BINARIES
from mlops_kit.localcluster.layout import RUN_ROOT, Layout

NODE_BINARIES = ("kubelet", "kube-proxy", "coredns", "metrics-server", "pause")
# Debian package -> a file it installs that the node uses.
PACKAGES = {
    "containerd": "/usr/bin/containerd",
    "runc": "/usr/sbin/runc",
    "containernetworking-plugins": "/usr/lib/cni/bridge",
    "iptables": "/usr/sbin/iptables",
    "conntrack": "/usr/sbin/conntrack",
    "iproute2": "/usr/sbin/ip",
    "util-linux": "/usr/bin/nsenter",
    "openssl": "/usr/bin/openssl",
}
CGROUP_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _apt_install(packages: list[str]) -> None:
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if processes.run(cmd, what="apt-get install", check=False, timeout=600, env=env).returncode != 0:
        processes.run(["apt-get", "update", "-q"], what="apt-get update", timeout=600, env=env)
        processes.run(cmd, what=f"installing {' '.join(packages)}", timeout=600, env=env)


def running_clusters() -> list[str]:
    """Clusters whose node has state on this machine (a directory under /run/mlops-kit)."""
    return sorted(d.name for d in RUN_ROOT.iterdir() if d.is_dir()) if RUN_ROOT.is_dir() else []


@dataclass
class Machine:
    """The facts the checks read, and the one action they may take; tests pass fakes."""

    euid: Callable[[], int] = os.geteuid
    hierarchies: Callable[[], list[Path]] = host.v1_hierarchies
    exists: Callable[[str], bool] = lambda p: Path(p).exists()
    executable: Callable[[Path], bool] = lambda p: os.access(p, os.X_OK)
    routes: Callable[[], list[str]] = host.host_routes
    port_free: Callable[[int], bool] = _port_free
    apt_install: Callable[[list[str]], None] = _apt_install
    running_clusters: Callable[[], list[str]] = running_clusters


def ensure_packages(names: tuple[str, ...], *, machine: Machine | None = None, install: bool = True) -> None:
    """The node's Debian packages among `names` (keys of PACKAGES) present, installing the missing ones with apt."""
    m = machine or Machine()
    missing_pkgs = [pkg for pkg in names if not m.exists(PACKAGES[pkg])]
    if missing_pkgs:
        if not install:
            raise EnvironmentProblem(f"missing packages: run `apt-get install -y {' '.join(missing_pkgs)}`")
        m.apt_install(missing_pkgs)
        still = [pkg for pkg in missing_pkgs if not m.exists(PACKAGES[pkg])]
        if still:
            raise EnvironmentProblem(f"`apt-get install -y {' '.join(still)}` did not install them: check apt's output")


def check(layout: Layout, *, machine: Machine | None = None, install: bool = True) -> None:
    m = machine or Machine()
    if m.euid() != 0:
        raise EnvironmentProblem(
            "the real node needs root (network namespace, cgroups, mounts): run `sudo -E mlops-kit cluster up`"
        )
    mounted = {h.name for h in m.hierarchies()}
    missing_cg = [c for c in CGROUP_CONTROLLERS if c not in mounted]
    if missing_cg:
        raise EnvironmentProblem(
            f"no cgroup v1 hierarchy for {', '.join(missing_cg)} under /sys/fs/cgroup: the node's kubelet runs with "
            "cgroup v1 (hybrid hosts work); mount them (e.g. `mount -t cgroup -o cpu cgroup /sys/fs/cgroup/cpu`)"
        )
    ensure_packages(tuple(PACKAGES), machine=m, install=install)
    missing_bins = [b for b in (*BINARIES, *NODE_BINARIES) if not m.executable(paths.tool(b))]
    if missing_bins:
        raise EnvironmentProblem(
            f"the offline toolchain lacks {', '.join(missing_bins)} (in {paths.toolchain_bin()}): run `make toolchain`"
        )
    for other in m.running_clusters():
        if other != layout.name and layout.collides_with(Layout.for_cluster(other)):
            raise UserError(
                f"cluster name {layout.name!r} maps to the same addresses as the running cluster {other!r} "
                f"({layout.pod_cidr}): pick another --name, or `mlops-kit cluster down --name {other}` first"
            )
    for line in m.routes():
        dest, _, rest = line.partition(" ")
        if dest == "default" or f"dev {layout.veth_host}" in rest:
            continue
        net = ipaddress.ip_network(dest if "/" in dest else f"{dest}/32", strict=False)
        clash = next((r for r in layout.ranges if r.overlaps(net)), None)
        if clash:
            raise EnvironmentProblem(
                f"the host already routes {net} ({line.strip()}), which overlaps the node's range {clash}: "
                f"remove that route or pick another --name"
            )


def check_port(layout: Layout, port: int, *, machine: Machine | None = None) -> None:
    """The API server port asked for must be free (only when the control plane is made, not when it is reused)."""
    if not (machine or Machine()).port_free(port):
        raise EnvironmentProblem(
            f"port {port} for the API server of cluster {layout.name} is in use: free it (`ss -ltnp | grep :{port}`) "
            "or leave the port to kwokctl"
        )
