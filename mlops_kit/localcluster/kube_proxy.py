"""The real node's kube-proxy: iptables mode, inside the node's network namespace (its KUBE-* chains live and die
with it). NodePorts answer on the node IP only; conntrack sysctls are left alone (``maxPerCore: 0`` and zero
timeouts mean "do not touch"): the machine's conntrack table is not the kit's to resize."""

from __future__ import annotations

from pathlib import Path

import yaml

from mlops_kit.localcluster.layout import Layout


def configuration(layout: Layout, kubeconfig: Path) -> dict:
    p = layout.ports
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": layout.node_name,
        "bindAddress": layout.node_ip,
        "healthzBindAddress": f"{layout.node_ip}:{p.kube_proxy_healthz}",
        "metricsBindAddress": f"{layout.node_ip}:{p.kube_proxy_metrics}",
        "nodePortAddresses": [f"{layout.node_ip}/32"],
        "clusterCIDR": str(layout.pod_cidr),
        "detectLocalMode": "ClusterCIDR",
        "iptables": {"masqueradeAll": False, "syncPeriod": "30s", "minSyncPeriod": "1s"},
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def install(layout: Layout, kubeconfig: Path) -> Path:
    path = layout.config_dir / "kube-proxy.yaml"
    path.write_text(yaml.safe_dump(configuration(layout, kubeconfig), sort_keys=False))
    return path


def argv(layout: Layout, binary: Path) -> tuple[str, ...]:
    return (str(binary), f"--config={layout.config_dir / 'kube-proxy.yaml'}", "--v=1")
