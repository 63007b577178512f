"""The kit's local Kubernetes cluster: a kwok control plane, one real node (kubelet + containerd + kube-proxy,
CoreDNS, metrics-server) and 3 fake nodes for scale, all processes on this machine.

    up(name) -> ClusterStatus     idempotent; recovers a half-started cluster (e.g. containerd dead, kwok alive)
    down(name)                    leaves nothing behind (processes, namespace, routes, cgroups, mounts, sysctls)
    status(name) -> ClusterStatus each node Ready or not, real or fake; the node's components

The kubeconfig and context come from mlops_kit.paths (``local_kubeconfig()``, ``local_context(name)``). One module
per concept: layout (names, addresses, directories), prereqs, control_plane (kwokctl), host (namespace, cgroups,
sysctls, teardown), containerd, cni, images, pki, kubelet, kube_proxy, addons (CoreDNS, metrics-server), node (start
order and readiness), processes, status.
"""

from __future__ import annotations

import shutil

from mlops_kit import paths
from mlops_kit.localcluster import control_plane, host, node, prereqs
from mlops_kit.localcluster.layout import Layout
from mlops_kit.localcluster.status import ClusterStatus, NodeStatus
from mlops_kit.localcluster.status import status as _status

DEFAULT_NAME = paths.LOCAL_CLUSTER
__all__ = ["DEFAULT_NAME", "ClusterStatus", "Layout", "NodeStatus", "down", "status", "up"]


def up(name: str = DEFAULT_NAME, *, port: int | None = None, timeout: float = 180) -> ClusterStatus:
    """Start (or reuse, or repair) cluster `name`; returns its status once the real node is Ready.

    `port` pins the API server's port (default: a free one chosen by kwokctl). Nothing is left half-made when a
    prerequisite is missing: they are all checked before the first change.
    """
    layout = Layout.for_cluster(name)
    prereqs.check(layout)
    with control_plane.lock(timeout):
        if port is not None and not control_plane.exists(layout):
            prereqs.check_port(layout, port)
        control_plane.ensure(layout, port=port, timeout=timeout)
        control_plane.apply_defaults(layout)
        node.start(layout, control_plane.api_port(layout), timeout=timeout)
        return _status(layout)


def down(name: str = DEFAULT_NAME) -> None:
    """Stop and delete cluster `name` and its node; no error if there is none."""
    layout = Layout.for_cluster(name)
    with control_plane.lock():
        node.stop(layout)
        others = [c for c in prereqs.running_clusters() if c != name]
        host.teardown(layout, others_running=bool(others))
        if control_plane.cluster_dir(layout).exists():
            control_plane.delete(layout)
        # The Pulumi state and workspaces of the stacks deployed here describe resources that no longer exist.
        shutil.rmtree(paths.cluster_state_dir(name), ignore_errors=True)


def status(name: str = DEFAULT_NAME) -> ClusterStatus:
    return _status(Layout.for_cluster(name))
