"""Composition: typed config → components → stack outputs. `__main__` adds what needs a real engine (config, cluster)."""

from __future__ import annotations

import os
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.model_service import ModelServiceComponent
from infra.components.monitoring import Monitoring
from infra.components.namespace import Namespace
from infra.components.retraining import Retraining
from infra.components.tracking import Tracking
from infra.config import ConfigError, StackConfig, TrackingBackend, load_from_pulumi
from infra.preflight import ClusterUnreachable, check_reachable
from mlops_kit.errors import UserError


class MissingSecret(UserError):
    pass


def required_secrets(cfg: StackConfig) -> list[str]:
    needed = []
    if cfg.tracking.enabled and cfg.tracking.backend is TrackingBackend.postgres:
        needed.append("postgresPassword")
    if cfg.monitoring.enabled and cfg.monitoring.grafana:
        needed.append("grafanaAdminPassword")
    return needed


def check_secrets(cfg: StackConfig, secrets: dict[str, Any], stack: str) -> None:
    missing = [key for key in required_secrets(cfg) if secrets.get(key) is None]
    if missing:
        commands = "; ".join(f"pulumi config set --secret {key} <value> -s {stack}" for key in missing)
        raise MissingSecret(
            f"stack {stack!r} needs the secret(s) {', '.join('mlops-kit:' + k for k in missing)} (never stored in plain "
            f"text): {commands}. `make up` sets generated ones for dev."
        )


def build_stack(cfg: StackConfig, secrets: dict[str, Any], provider: k8s.Provider | None = None) -> dict[str, Any]:
    base = pulumi.ResourceOptions(provider=provider) if provider else pulumi.ResourceOptions()
    namespace = Namespace("namespace", cfg, opts=base)
    after_namespace = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[namespace]))
    tracking = Tracking("tracking", cfg, secrets.get("postgresPassword"), opts=after_namespace)
    monitoring = Monitoring("monitoring", cfg, secrets.get("grafanaAdminPassword"), opts=after_namespace)
    retraining = Retraining("retraining", cfg, opts=after_namespace)
    models = {
        model.name: ModelServiceComponent(f"model-{model.name}", cfg, model, opts=after_namespace)
        for model in cfg.models
    }
    return {
        "environment": cfg.environment.value,
        "namespace": namespace.name,
        "mlflowUrl": tracking.url,
        "prometheusUrl": monitoring.prometheus_url,
        "grafanaUrl": monitoring.grafana_url,
        "retrainingSchedule": retraining.schedule,
        "models": {
            name: {
                "image": component.image,
                "candidateImage": component.candidate_image,
                "modelName": model.model_name,
                "modelVersion": model.model_version,
                "url": component.url,
                "rollout": component.rollout,
            }
            for (name, component), model in zip(models.items(), cfg.models, strict=True)
        },
    }


def run() -> None:
    """The program `pulumi up/preview` runs: config → secrets → cluster check → components → exports."""
    stack = pulumi.get_stack()
    try:
        cfg = load_from_pulumi()
        config = pulumi.Config()
        secrets = {key: config.get_secret(key) for key in required_secrets(cfg)}
        check_secrets(cfg, secrets, stack)
        kubeconfig_file = None
        if os.environ.get("MLOPS_KIT_SKIP_CLUSTER_CHECK") != "1":
            kubeconfig_file = check_reachable(cfg.cluster.kubeconfig, cfg.cluster.context)
    except (ConfigError, MissingSecret, ClusterUnreachable) as exc:
        # RunError ends the program with the message alone: a user's mistake deserves advice, not a traceback.
        raise pulumi.RunError(str(exc)) from None

    # A path, not the content: the provider re-reads it, and state does not churn when certificates rotate.
    kubeconfig = str(kubeconfig_file) if kubeconfig_file else None
    provider = k8s.Provider(
        "cluster",
        context=cfg.cluster.context,
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        delete_unreachable=False,
    )
    for key, value in build_stack(cfg, secrets, provider).items():
        pulumi.export(key, value)
