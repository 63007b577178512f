"""A private containerd for the node (Debian's containerd 1.6 + runc), never docker's.

Own root, state, socket and runc root (layout.py), config written here. Measured requirements on this machine
(ENVIRONMENT.md, "Real pods on a real node"):

* ``restrict_oom_score_adj = true``: the machine lacks CAP_SYS_RESOURCE, and without it every sandbox fails with
  runc "can't get final child's PID from pipe: EOF" (runc's log.json: oom_score_adj permission denied).
* ``SystemdCgroup = false``: the kubelet uses the cgroupfs driver.
* ``netns_mounts_under_state_dir = true``: pod network namespaces are mounted below the node's state directory.

The sandbox image is the kit's pause image (images.py imports it); the local registry 127.0.0.1:5000 is a plain-HTTP
registry, and a mirror for the public registries the manifests may name (there is no internet here). The streaming
server (exec/attach/port-forward) listens on the host end of the node's veth, where the kubelet in the node's
namespace reaches it. The `opt` plugin (it would write /opt/containerd) is disabled.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_kit.localcluster import cni
from mlops_kit.localcluster.layout import PAUSE_IMAGE, REGISTRY, Layout

CONTAINERD = "/usr/bin/containerd"
RUNC = "/usr/sbin/runc"
CTR = "/usr/bin/ctr"
K8S_NAMESPACE = "k8s.io"
MIRRORED = ("docker.io", "registry.k8s.io", "ghcr.io", "quay.io")
_CRI = '[plugins."io.containerd.grpc.v1.cri"'


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string


def _table(header: str, values: dict[str, object]) -> str:
    return "\n".join([header, *(f"  {k} = {_toml(v)}" for k, v in values.items())])


def config_toml(layout: Layout, *, sandbox_image: str = PAUSE_IMAGE) -> str:
    tables = [
        "\n".join(
            [
                "version = 2",
                f"root = {_toml(layout.containerd_root)}",
                f"state = {_toml(layout.containerd_state)}",
                f"disabled_plugins = {_toml(['io.containerd.internal.v1.opt', 'io.containerd.snapshotter.v1.aufs', 'io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper'])}",
            ]
        ),
        _table("[grpc]", {"address": str(layout.containerd_socket)}),
        _table("[ttrpc]", {"address": f"{layout.containerd_socket}.ttrpc"}),
        _table("[debug]", {"address": "", "level": "info"}),
        _table("[metrics]", {"address": ""}),
        _table(
            f"{_CRI}]",
            {
                "sandbox_image": sandbox_image,
                "restrict_oom_score_adj": True,
                "netns_mounts_under_state_dir": True,
                "stream_server_address": layout.host_ip,
                "stream_server_port": "0",
                "enable_selinux": False,
                "max_container_log_line_size": 16384,
            },
        ),
        _table(
            f"{_CRI}.containerd]",
            {"snapshotter": "overlayfs", "default_runtime_name": "runc", "discard_unpacked_layers": False},
        ),
        _table(f"{_CRI}.containerd.runtimes.runc]", {"runtime_type": "io.containerd.runc.v2"}),
        _table(
            f"{_CRI}.containerd.runtimes.runc.options]",
            {"SystemdCgroup": False, "BinaryName": RUNC, "Root": str(layout.runc_root)},
        ),
        _table(
            f"{_CRI}.cni]",
            {"bin_dir": str(layout.cni_bin_dir), "conf_dir": str(layout.cni_conf_dir), "max_conf_num": 1},
        ),
        _table(f"{_CRI}.registry]", {"config_path": str(hosts_dir(layout))}),
    ]
    return "\n\n".join(tables) + "\n"


def hosts_dir(layout: Layout) -> Path:
    return layout.config_dir / "certs.d"


def hosts_toml(registry: str, *, upstream: str | None = None) -> str:
    """certs.d/<host>/hosts.toml: the local registry over plain HTTP (for itself, or as the mirror of `upstream`)."""
    lines = [f'server = "https://{upstream}"'] if upstream else [f'server = "http://{registry}"']
    lines += [f'\n[host."http://{registry}"]', '  capabilities = ["pull", "resolve"]', "  skip_verify = true"]
    return "\n".join(lines) + "\n"


def install(layout: Layout) -> Path:
    """Write the config (and the registry host files, and the CNI files it names); returns the config's path."""
    hosts = hosts_dir(layout)
    for host, upstream in [(REGISTRY, None), *((m, m) for m in MIRRORED)]:
        (hosts / host).mkdir(parents=True, exist_ok=True)
        (hosts / host / "hosts.toml").write_text(hosts_toml(REGISTRY, upstream=upstream))
    cni.install(layout)
    for d in (layout.containerd_root, layout.containerd_state, layout.runc_root):
        d.mkdir(parents=True, exist_ok=True)
    path = layout.config_dir / "containerd.toml"
    path.write_text(config_toml(layout))
    return path


def argv(layout: Layout) -> tuple[str, ...]:
    return (CONTAINERD, "--config", str(layout.config_dir / "containerd.toml"))


def ctr(layout: Layout, *args: str) -> list[str]:
    return [CTR, "--address", str(layout.containerd_socket), "--namespace", K8S_NAMESPACE, *args]
