"""What the control plane is configured with (pure): the KwokctlConfiguration kwokctl creates the cluster from, and
the fake nodes. ``control_plane`` runs it.

* The kwok controller fakes only nodes annotated ``kwok.x-k8s.io/node=fake`` (``manage-all-nodes=false``), so it
  leaves the real node to its kubelet. The fake nodes are tainted ``kwok.x-k8s.io/node=fake:NoSchedule``: workloads
  land on the real node unless they tolerate the taint.
* kube-apiserver: the cluster's Service range; kubelet client credentials (kwokctl's admin certificate) and
  ``kubelet-preferred-address-types=InternalIP`` for logs/exec; the kubelet's serving certificate checked against the
  cluster CA; the aggregation layer for metrics-server (``requestheader-*``; kwokctl already passes the admin
  certificate as proxy-client cert), with ``enable-aggregator-routing`` (endpoints, not the ClusterIP). Its
  certificate also names the host end of the node's veth (where the node reaches it) and the ``kubernetes`` Service IP.
* ``componentsPatches``, not ``--extra-args``: kwokctl v0.8.0 panics when ``--extra-args`` names several components.
"""

from __future__ import annotations

from pathlib import Path

from mlops_kit import paths
from mlops_kit.localcluster.layout import FAKE_NODE_TAINT, REAL_NODE_LABEL, Layout

NODE_COUNT = 3  # fake nodes
NODE_RESOURCES = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "200Gi"}
ADMIN_USER = "kwok-admin"  # the CN of kwokctl's admin certificate (also the API server's proxy-client certificate)
CONFIG_MARK = "mlops-kit.dev/localcluster"  # annotation on the kwokctl configuration the kit wrote


def cluster_dir(layout: Layout) -> Path:
    return paths.kwok_workdir() / "clusters" / layout.name


def _args(pairs: dict[str, str], override: frozenset[str] = frozenset()) -> list[dict]:
    return [{"key": k, "value": v, **({"override": True} if k in override else {})} for k, v in pairs.items()]


def kwokctl_configuration(layout: Layout, *, port: int | None = None) -> dict:
    b = paths.toolchain_bin()
    pki = cluster_dir(layout) / "pki"
    options: dict[str, object] = {
        "runtime": "binary",
        "kubeApiserverBinary": str(b / "kube-apiserver"),
        "kubeControllerManagerBinary": str(b / "kube-controller-manager"),
        "kubeSchedulerBinary": str(b / "kube-scheduler"),
        "kwokControllerBinary": str(b / "kwok"),
        "etcdBinary": str(b / "etcd"),
        "kubectlBinary": str(b / "kubectl"),
        "kubeApiserverCertSANs": [layout.host_ip, layout.kubernetes_service_ip],
        "quietPull": True,
    }
    if port is not None:
        options["kubeApiserverPort"] = port
    apiserver = {
        "service-cluster-ip-range": str(layout.service_cidr),
        "kubelet-client-certificate": str(pki / "admin.crt"),
        "kubelet-client-key": str(pki / "admin.key"),
        "kubelet-certificate-authority": str(pki / "ca.crt"),
        "kubelet-preferred-address-types": "InternalIP",
        "requestheader-client-ca-file": str(pki / "ca.crt"),
        "requestheader-allowed-names": ADMIN_USER,
        "requestheader-username-headers": "X-Remote-User",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "enable-aggregator-routing": "true",
    }
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "metadata": {"name": layout.name, "annotations": {CONFIG_MARK: "1"}},
        "options": options,
        "componentsPatches": [
            {"name": "kube-apiserver", "extraArgs": _args(apiserver)},
            {
                "name": "kwok-controller",
                "extraArgs": _args(
                    {"manage-all-nodes": "false", "manage-nodes-with-annotation-selector": "kwok.x-k8s.io/node=fake"},
                    override=frozenset({"manage-all-nodes"}),
                ),
            },
        ],
    }


def fake_node(i: int) -> dict:
    name = f"kwok-node-{i}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                REAL_NODE_LABEL: "fake",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "node-role.kubernetes.io/agent": "",
                "topology.kubernetes.io/zone": f"zone-{'abc'[i % 3]}",
            },
        },
        # Workloads go to the real node unless they tolerate this (then the pods are simulated: Running, no process).
        "spec": {"taints": [{"key": FAKE_NODE_TAINT, "value": "fake", "effect": "NoSchedule"}]},
        "status": {
            "allocatable": NODE_RESOURCES,
            "capacity": NODE_RESOURCES,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "kwok",
                "kernelVersion": "kwok",
                "machineID": name,
                "systemUUID": name,
                "bootID": name,
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                "containerRuntimeVersion": "kwok",
            },
            "phase": "Running",
        },
    }
