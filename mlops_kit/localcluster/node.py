"""The real node: its components in start order, and how `up` brings each one to running and healthy.

Start order and readiness: containerd (answers `ctr version`) → sandbox image imported → kubelet (healthz on the node
IP) → kube-proxy (healthz) → CoreDNS (health) → metrics-server (port open; APIService registered) → the local-volume
provisioner (running) → the Node Ready.
A component that runs with the inputs it was started with is kept; a dead one, or one whose config or credentials
changed (e.g. the control plane was made anew with a new CA and port), is (re)started. That is what makes `up`
idempotent and lets it recover a half-started node.
"""

from __future__ import annotations

import hashlib
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from mlops_kit import paths
from mlops_kit.localcluster import (
    addons,
    cni,
    containerd,
    control_plane,
    host,
    images,
    kube_proxy,
    kubelet,
    pki,
    processes,
)
from mlops_kit.localcluster.layout import Layout
from mlops_kit.localcluster.processes import Component

ORDER = ("containerd", "kubelet", "kube-proxy", "coredns", "metrics-server", "volume-provisioner")


@dataclass(frozen=True)
class Spec:
    component: Component
    inputs: tuple[Path, ...]  # files whose change (like a change of the command line) means a restart


def kubeconfig(layout: Layout, component: str) -> Path:
    return layout.config_dir / f"{component}.kubeconfig"


def specs(layout: Layout, cgroup_procs: tuple[Path, ...] = ()) -> dict[str, Spec]:
    c = layout.config_dir
    ns = layout.netns_path
    ca = control_plane.cluster_dir(layout) / "pki" / "ca.crt"
    admin = kubeconfig(layout, "admin")

    def comp(name: str, argv: tuple[str, ...], netns: Path | None) -> Component:
        return Component(name=name, argv=argv, netns=netns, cgroup_procs=cgroup_procs)

    return {
        "containerd": Spec(comp("containerd", containerd.argv(layout), None),
                           (c / "containerd.toml", c / "cni" / cni.CONFLIST_NAME)),
        "kubelet": Spec(comp("kubelet", kubelet.argv(layout, paths.tool("kubelet"), kubeconfig(layout, "kubelet")), ns),
                        (c / "kubelet.yaml", kubeconfig(layout, "kubelet"), ca)),
        "kube-proxy": Spec(comp("kube-proxy", kube_proxy.argv(layout, paths.tool("kube-proxy")), ns),
                           (c / "kube-proxy.yaml", kubeconfig(layout, "kube-proxy"), ca)),
        "coredns": Spec(comp("coredns", addons.coredns_argv(layout, paths.tool("coredns")), ns),
                        (c / "Corefile", admin, ca)),
        "metrics-server": Spec(
            comp("metrics-server", addons.metrics_server_argv(layout, paths.tool("metrics-server"), admin, ca), ns),
            (admin, ca),
        ),
        # Host side (its kubectl reaches the API server like any host client); writes under the node's directory.
        "volume-provisioner": Spec(
            comp("volume-provisioner", (sys.executable, "-m", "mlops_kit.localcluster.provisioner",
                                        "--kubectl", str(paths.tool("kubectl")), "--kubeconfig", str(admin),
                                        "--volumes", str(layout.data_dir / "volumes")), None),
            (admin, ca),
        ),
    }  # fmt: skip


def _digest(command: list[str], files: tuple[Path, ...]) -> str:
    h = hashlib.sha256("\0".join(command).encode())
    for f in files:
        h.update(f.read_bytes() if f.exists() else b"-")
    return h.hexdigest()


def _inputs_file(layout: Layout, name: str) -> Path:
    return layout.pid_dir / f"{name}.inputs"


def ensure_running(layout: Layout, spec: Spec) -> bool:
    """Start `spec` unless it runs with unchanged inputs; True when it was (re)started."""
    digest = _digest(spec.component.command(), spec.inputs)
    pid = processes.running_pid(layout, spec.component)
    recorded = _inputs_file(layout, spec.component.name)
    if pid is not None and recorded.exists() and recorded.read_text() == digest:
        return False
    if pid is not None:
        processes.stop(layout, spec.component)
    processes.start(layout, spec.component)
    recorded.write_text(digest)
    return True


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tcp_open(host_: str, port: int) -> bool:
    try:
        with socket.create_connection((host_, port), timeout=1):
            return True
    except OSError:
        return False


def write_configs(layout: Layout, api_port: int) -> None:
    ca = pki.kwok_pki(layout, control_plane.cluster_dir(layout))
    creds = pki.node_credentials(layout, ca, f"https://{layout.host_ip}:{api_port}")
    containerd.install(layout)
    kubelet.install(
        layout, ca=ca["ca"], serving_crt=creds["kubelet-serving-crt"], serving_key=creds["kubelet-serving-key"]
    )
    kube_proxy.install(layout, creds["kube-proxy"])
    (layout.config_dir / "Corefile").write_text(addons.corefile(layout, creds["admin"]))


def start(layout: Layout, api_port: int, *, timeout: float = 90) -> None:
    cgroup_procs = host.prepare(layout)
    write_configs(layout, api_port)
    s = specs(layout, cgroup_procs)
    p = layout.ports
    ip = layout.node_ip

    ensure_running(layout, s["containerd"])
    version = containerd.ctr(layout, "version")
    processes.wait_ready(layout, s["containerd"].component,
                         lambda: processes.run(version, what="containerd", check=False).returncode == 0,
                         timeout=timeout, what="answering on its socket")  # fmt: skip
    images.ensure_pause(layout, paths.tool("pause"))

    checks = {
        "kubelet": (lambda: _http_ok(f"http://{ip}:{p.kubelet_healthz}/healthz"), "healthy"),
        "kube-proxy": (lambda: _http_ok(f"http://{ip}:{p.kube_proxy_healthz}/healthz"), "healthy"),
        "coredns": (lambda: _http_ok(f"http://{ip}:{p.dns_health}/health"), "healthy"),
        "metrics-server": (lambda: _tcp_open(ip, p.metrics_server), "listening"),
        "volume-provisioner": (lambda: True, "running"),
    }
    for name, (check, what) in checks.items():
        ensure_running(layout, s[name])
        processes.wait_ready(layout, s[name].component, check, timeout=timeout, what=what)
    control_plane.kubectl(layout, "apply", "-f", "-", stdin=addons.metrics_api_manifest(layout))
    wait_node_ready(layout, timeout=timeout)


def node_ready(layout: Layout) -> bool:
    for item in control_plane.nodes(layout):
        if item["metadata"]["name"] == layout.node_name:
            conds = {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}
            return conds.get("Ready") == "True"
    return False


def wait_node_ready(layout: Layout, *, timeout: float) -> None:
    kubelet_spec = specs(layout)["kubelet"].component
    processes.wait_ready(layout, kubelet_spec, lambda: node_ready(layout), timeout=timeout, what="a Ready node")


def running(layout: Layout) -> dict[str, bool]:
    return {name: processes.running_pid(layout, spec.component) is not None for name, spec in specs(layout).items()}


def stop(layout: Layout) -> None:
    """Stop the components in reverse order; once the kubelet is gone, remove the pods through the CRI (crictl, when
    the toolchain has it: CNI DEL releases addresses and netns mounts cleanly). What is left in the node's cgroups
    is host.teardown's."""
    s = specs(layout)
    for name in reversed(ORDER):
        if name == "containerd" and processes.running_pid(layout, s[name].component):
            _remove_pods(layout)
        processes.stop(layout, s[name].component, timeout=20 if name == "kubelet" else 10)
        _inputs_file(layout, name).unlink(missing_ok=True)


def _remove_pods(layout: Layout) -> None:
    crictl = paths.tool("crictl")
    if crictl.exists():
        endpoint = f"unix://{layout.containerd_socket}"
        processes.run([str(crictl), "--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "rmp", "-fa"],
                      what="removing the node's pods", check=False, timeout=60)  # fmt: skip
