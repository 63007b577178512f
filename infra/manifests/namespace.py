"""The environment's namespace: Pod Security `restricted`, default-deny traffic with the few allows every stack needs,
a ResourceQuota ceiling and LimitRange defaults for anything deployed without requests/limits."""

from __future__ import annotations

from infra.config import StackConfig
from infra.manifests.common import Manifest, labels, metadata

COMPONENT = "namespace"


def namespace_manifests(cfg: StackConfig) -> list[Manifest]:
    ns = cfg.namespace
    common = labels(COMPONENT, ns, **{"mlops-kit.io/environment": cfg.environment.value})
    pss = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    pss.update({f"pod-security.kubernetes.io/{mode}-version": "latest" for mode in ("enforce", "audit", "warn")})
    quota = cfg.quota
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(ns, None, {**common, **pss})},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("default-deny-all", ns, common),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            # Egress inside the namespace and to cluster DNS; who may *receive* is decided by each component's ingress policy.
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("allow-egress-namespace-and-dns", ns, common),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"podSelector": {}}]},
                    {
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": metadata("environment-quota", ns, common),
            "spec": {
                "hard": {
                    "requests.cpu": quota.requests_cpu,
                    "requests.memory": quota.requests_memory,
                    "limits.cpu": quota.limits_cpu,
                    "limits.memory": quota.limits_memory,
                    "pods": str(quota.pods),
                    "persistentvolumeclaims": str(quota.persistent_volume_claims),
                }
            },
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": metadata("container-defaults", ns, common),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "default": {"cpu": "500m", "memory": "512Mi"},
                    }
                ]
            },
        },
    ]
