"""Cluster DNS and resource metrics, as host processes of the node (inside its network namespace), managed like the
kubelet: no image is needed and they come up in a second.

* CoreDNS (the toolchain's slim build) serves ``cluster.local`` with the kubernetes plugin on the node IP, port 53,
  which is the kubelet's ``clusterDNS``. Other names are not answered (there is no upstream to forward to here).
* metrics-server scrapes the real kubelet (InternalIP, its serving certificate checked against the cluster CA) and
  is registered as the ``v1beta1.metrics.k8s.io`` APIService through a selector-less Service whose endpoint is the
  node IP: the API server (aggregation layer flags in control_plane.py) reaches it there, so ``kubectl top`` and the
  HPA act on real CPU. Fake nodes have no kubelet to scrape and report no metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlops_kit.localcluster.layout import CLUSTER_DOMAIN, REAL_NODE_LABEL, Layout

METRICS_NAMESPACE = "kube-system"
METRICS_SERVICE = "metrics-server"


def corefile(layout: Layout, admin_kubeconfig: Path) -> str:
    p = layout.ports
    return f""".:{p.dns} {{
    bind {layout.node_ip}
    errors
    health {layout.node_ip}:{p.dns_health}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {admin_kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loadbalance
}}
"""


def coredns_argv(layout: Layout, binary: Path) -> tuple[str, ...]:
    return (str(binary), "-conf", str(layout.config_dir / "Corefile"))


def metrics_server_argv(layout: Layout, binary: Path, admin_kubeconfig: Path, ca: Path) -> tuple[str, ...]:
    return (
        str(binary),
        f"--kubeconfig={admin_kubeconfig}",
        f"--authentication-kubeconfig={admin_kubeconfig}",
        f"--authorization-kubeconfig={admin_kubeconfig}",
        f"--bind-address={layout.node_ip}",
        f"--secure-port={layout.ports.metrics_server}",
        f"--cert-dir={layout.pki_dir / 'metrics-server'}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={ca}",
        "--metric-resolution=15s",
        f"--node-selector={REAL_NODE_LABEL}=real",  # fake nodes have no kubelet to scrape
        "--v=1",
    )


def metrics_api_objects(layout: Layout) -> list[dict]:
    """Service + Endpoints (the node IP) + APIService: how the API server finds the host-process metrics-server."""
    port = layout.ports.metrics_server
    meta = {
        "name": METRICS_SERVICE,
        "namespace": METRICS_NAMESPACE,
        "labels": {"app.kubernetes.io/name": METRICS_SERVICE},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": port, "protocol": "TCP"}]},
        },
        {
            # Endpoints (not an EndpointSlice): what the aggregator's resolver reads; kube-controller-manager mirrors
            # it into a slice for kube-proxy.
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": meta,
            "subsets": [{"addresses": [{"ip": layout.node_ip}], "ports": [{"name": "https", "port": port}]}],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {
                "service": {"name": METRICS_SERVICE, "namespace": METRICS_NAMESPACE, "port": 443},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                # metrics-server's certificate is self-signed (its --cert-dir); the hop is host-local.
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def metrics_api_manifest(layout: Layout) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": metrics_api_objects(layout)})
