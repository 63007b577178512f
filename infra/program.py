"""The program `pulumi up/preview` runs: config → secrets → cluster check → platform manifests → components → outputs.

`__main__` calls `run()`; `build_stack()` is what the mocked unit tests drive.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.model_service import ModelService, built_image
from infra.components.monitoring import Monitoring
from infra.components.namespace import Namespace
from infra.components.retraining import Retraining
from infra.components.tracking import Tracking
from infra.config import Image, ModelServiceConfig, StackConfig, check_secrets, load_from_pulumi, required_secrets
from infra.platform import platform
from infra.preflight import check_reachable
from mlops_kit.errors import KitError


def _deployable_image(slot: str, image: Image, model: ModelServiceConfig) -> pulumi.Output[str]:
    return built_image(f"model-{model.name}-{'image' if slot == 'primary' else 'candidate-image'}", image, model)


def build_stack(cfg: StackConfig, secrets: dict[str, Any], provider: k8s.Provider | None = None) -> dict[str, Any]:
    parts = platform(cfg, secrets, _deployable_image)
    protect = cfg.protect_stateful
    base = pulumi.ResourceOptions(provider=provider) if provider else pulumi.ResourceOptions()
    namespace = Namespace("namespace", parts.namespace, protect, opts=base)
    after_namespace = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=[namespace]))
    Tracking("tracking", parts.tracking, parts.urls["mlflow"], protect, opts=after_namespace)
    Monitoring("monitoring", parts.monitoring, parts.urls, protect, opts=after_namespace)
    schedule = cfg.retraining.schedule if parts.retraining else ""
    Retraining("retraining", parts.retraining, schedule, protect, opts=after_namespace)
    services = {
        name: ModelService(f"model-{name}", part, protect, opts=after_namespace) for name, part in parts.models.items()
    }
    return {
        "environment": cfg.environment.value,
        "namespace": namespace.name,
        "mlflowUrl": parts.urls["mlflow"],
        "prometheusUrl": parts.urls["prometheus"],
        "grafanaUrl": parts.urls["grafana"],
        "retrainingSchedule": schedule,
        "lastPromotion": cfg.promotion.last.model_dump(by_alias=True) if cfg.promotion.last else None,
        "models": {
            name: {
                "image": service.image,
                "candidateImage": service.candidate_image,
                "modelName": parts.models[name].config.model_name,
                "modelVersion": parts.models[name].config.model_version,
                "url": service.url,
                "rollout": service.rollout,
            }
            for name, service in services.items()
        },
    }


def run() -> None:
    stack = pulumi.get_stack()
    try:
        cfg = load_from_pulumi()
        config = pulumi.Config()
        secrets = {key: config.get_secret(key) for key in required_secrets(cfg)}
        check_secrets(cfg, secrets, stack)
        kubeconfig_file = None
        if os.environ.get("MLOPS_KIT_SKIP_CLUSTER_CHECK") != "1":
            kubeconfig_file = check_reachable(cfg.cluster.kubeconfig, cfg.cluster.context)
    except KitError as exc:
        # RunError ends the program with the message alone: a user's mistake deserves advice, not a traceback.
        raise pulumi.RunError(exc.message) from None

    # A path, not the content: the provider re-reads it, and state does not churn when certificates rotate.
    kubeconfig = str(kubeconfig_file) if kubeconfig_file else None
    provider = k8s.Provider(
        "cluster",
        context=cfg.cluster.context,
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        delete_unreachable=False,
    )
    try:
        outputs = build_stack(cfg, secrets, provider)
    except KitError as exc:  # a name or label the API server would refuse: before anything is registered
        raise pulumi.RunError(exc.message) from None
    for key, value in outputs.items():
        pulumi.export(key, value)
