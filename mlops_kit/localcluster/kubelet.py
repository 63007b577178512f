"""The real node's kubelet: its KubeletConfiguration and command line.

Measured on this machine (ENVIRONMENT.md): Kubernetes 1.35+ kubelets refuse cgroup v1 unless ``failCgroupV1: false``;
the cgroupfs driver with a cgroupRoot of the kit's own (host.make_cgroups creates it in every v1 hierarchy);
containerd 1.6 lacks the RuntimeConfig call, so the kubelet uses the configured driver (and warns about 1.37).
It runs in the node's network namespace: it serves on the node IP, and reaches the API server on the host end of the
veth. Every directory it writes is the node's (root dir, pod logs, volume plugins); the exception is the fixed
/var/log/containers, whose links host.teardown removes.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from mlops_kit.localcluster.layout import CLUSTER_DOMAIN, REAL_NODE_LABEL, Layout

NODE_LABELS = {REAL_NODE_LABEL: "real"}  # kubernetes.io-prefixed roles may not be self-set by a kubelet


def configuration(layout: Layout, *, ca: Path, serving_crt: Path, serving_key: Path) -> dict:
    p = layout.ports
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": layout.cgroup_root,
        "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"],
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": layout.node_ip,
        "port": p.kubelet,
        "readOnlyPort": 0,
        "healthzBindAddress": layout.node_ip,
        "healthzPort": p.kubelet_healthz,
        "tlsCertFile": str(serving_crt),
        "tlsPrivateKeyFile": str(serving_key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [layout.node_ip],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": "",  # pods get the cluster DNS only; the host's resolver is not reachable from the node
        "podLogsDir": str(layout.pod_logs_dir),
        "volumePluginDir": str(layout.kubelet_root / "volume-plugins"),
        "staticPodPath": "",
        "failSwapOn": False,
        "maxPods": 110,
        "podPidsLimit": -1,
        "serializeImagePulls": False,
        # The disk is shared with the rest of the machine: evict on real exhaustion only, never at 85 % full.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 98,
        "imageGCLowThresholdPercent": 95,
        "shutdownGracePeriod": "0s",
    }


def install(layout: Layout, *, ca: Path, serving_crt: Path, serving_key: Path) -> Path:
    layout.kubelet_root.mkdir(parents=True, exist_ok=True)
    layout.pod_logs_dir.mkdir(parents=True, exist_ok=True)
    path = layout.config_dir / "kubelet.yaml"
    conf = configuration(layout, ca=ca, serving_crt=serving_crt, serving_key=serving_key)
    path.write_text(yaml.safe_dump(conf, sort_keys=False))
    return path


def argv(layout: Layout, binary: Path, kubeconfig: Path) -> tuple[str, ...]:
    labels = ",".join(f"{k}={v}" for k, v in NODE_LABELS.items())
    return (
        str(binary),
        f"--config={layout.config_dir / 'kubelet.yaml'}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.kubelet_root}",
        f"--cert-dir={layout.pki_dir}",
        f"--hostname-override={layout.node_name}",
        f"--node-ip={layout.node_ip}",
        f"--node-labels={labels}",
        "--v=1",
    )
