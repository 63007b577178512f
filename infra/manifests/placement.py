"""Which nodes run the stack's pods on the kit's local cluster: its real kubelet node, or kwok's fake nodes.

One transform over every pod template the platform renders, applied by the composition root, so no builder has to
know about the local cluster. On any other cluster nothing changes: the scheduler places pods as the cluster's
owners decided.
"""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig
from infra.config.cluster import LocalNodes
from infra.manifests.common import Manifest

NODE_KIND_LABEL = "mlops-kit.io/node"  # set by `mlops-kit cluster up`: real | fake
FAKE_NODE_TAINT = "kwok.x-k8s.io/node"  # fake nodes carry <taint>=fake:NoSchedule, so nothing lands there unasked


# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def _with_pod_fields(node: dict[str, Any], path: tuple[str, ...], fields: dict[str, Any]) -> dict[str, Any]:
    """A copy of `node` with `fields` added at `path`; only the dicts on the path are copied (values may be Outputs)."""
    if not path:
        return {**node, **fields}
    return {**node, path[0]: _with_pod_fields(node[path[0]], path[1:], fields)}


def scheduling(nodes: LocalNodes) -> dict[str, Any]:
    """The pod-spec fields that pin a pod to one kind of local node."""
    fields: dict[str, Any] = {"nodeSelector": {NODE_KIND_LABEL: nodes.value}}
    if nodes is LocalNodes.fake:
        fields["tolerations"] = [{"key": FAKE_NODE_TAINT, "operator": "Equal", "value": "fake", "effect": "NoSchedule"}]
    return fields


def place(cfg: StackConfig, manifests: list[Manifest]) -> list[Manifest]:
    if not cfg.cluster.is_local:
        return manifests
    fields = scheduling(cfg.cluster.local_nodes)
    return [
        _with_pod_fields(m, POD_SPEC_PATHS[m["kind"]], fields) if m["kind"] in POD_SPEC_PATHS else m for m in manifests
    ]
