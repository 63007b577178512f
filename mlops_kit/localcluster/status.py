"""What `cluster status` reports: the control plane, each node (Ready or not, real or fake), the real node's
components."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mlops_kit import paths
from mlops_kit.localcluster import control_plane, node
from mlops_kit.localcluster.layout import REAL_NODE_LABEL, Layout


@dataclass(frozen=True)
class NodeStatus:
    name: str
    ready: bool
    real: bool  # a kubelet runs its pods; fake nodes (kwok) only report them Running


@dataclass
class ClusterStatus:
    name: str
    exists: bool
    running: bool
    context: str
    kubeconfig: str
    server: str | None = None
    nodes: list[NodeStatus] = field(default_factory=list)
    components: dict[str, bool] = field(default_factory=dict)  # the real node's processes: name -> running
    node_ip: str = ""
    service_cidr: str = ""

    @property
    def real_node_ready(self) -> bool:
        return any(n.real and n.ready for n in self.nodes)

    def as_dict(self) -> dict:
        return asdict(self)


def node_statuses(items: list[dict]) -> list[NodeStatus]:
    out = []
    for item in items:
        meta = item["metadata"]
        conds = {c["type"]: c["status"] for c in item.get("status", {}).get("conditions", [])}
        fake = meta.get("annotations", {}).get("kwok.x-k8s.io/node") == "fake"
        real = not fake and meta.get("labels", {}).get(REAL_NODE_LABEL) == "real"
        out.append(NodeStatus(name=meta["name"], ready=conds.get("Ready") == "True", real=real))
    return sorted(out, key=lambda n: (not n.real, n.name))


def status(layout: Layout) -> ClusterStatus:
    st = ClusterStatus(
        name=layout.name,
        exists=control_plane.exists(layout),
        running=False,
        context=layout.context,
        kubeconfig=str(paths.local_kubeconfig()),
        components=node.running(layout),
        node_ip=layout.node_ip,
        service_cidr=str(layout.service_cidr),
    )
    if st.exists and control_plane.healthy(layout):
        st.running = True
        st.server = control_plane.server(layout)
        st.nodes = node_statuses(control_plane.nodes(layout))
    return st
