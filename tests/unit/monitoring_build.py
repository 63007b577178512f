"""What the monitoring manifest tests share: a stack's monitoring objects built from config, and indexes of them."""

from __future__ import annotations

from infra.config import parse_stack_config
from infra.manifests.monitoring import monitoring_manifests

PASSWORD = "correct-horse-battery-staple-4711"
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")


def build(**monitoring):
    raw = {"environment": "dev", "namespace": "ml-staging", "storageClass": "fast-ssd"}
    if monitoring:
        raw["monitoring"] = monitoring
    cfg = parse_stack_config(raw)
    return cfg, monitoring_manifests(cfg, PASSWORD)


def by_kind_name(objects):
    return {(m["kind"], m["metadata"]["name"]): m for m in objects}


def pod_specs(objects):
    for m in objects:
        if m["kind"] == "Deployment":
            yield m["metadata"]["name"], m["spec"]["template"]["spec"]
