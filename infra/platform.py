"""The composition root: a stack's config → the manifests of every platform part, in deployment order.

The Pulumi program turns each part into one component, `mlops-kit render` writes them as YAML, and the tests check
them: all three call `platform()`, so they cannot disagree about which objects exist, in which part, or which image
a rollout track runs. Values that exist only at deploy time (secrets, built image digests) come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra import strategies
from infra.config import Image, ModelServiceConfig, StackConfig
from infra.manifests import names
from infra.manifests.common import Manifest
from infra.manifests.model_service import model_service_manifests, service_url
from infra.manifests.monitoring import grafana_url, monitoring_manifests, prometheus_url
from infra.manifests.namespace import namespace_manifests
from infra.manifests.placement import place
from infra.manifests.retraining import retraining_manifests
from infra.manifests.tracking import tracking_manifests, tracking_url
from infra.strategies.base import RolloutPlan

# (image slot, image config, model) → what the Deployment's `image` gets: a string, or a Pulumi Output.
ImageResolver = Callable[[str, Image, ModelServiceConfig], Any]


def reference_of(slot: str, image: Image, model: ModelServiceConfig) -> str:
    """The image a reviewer should read: the prebuilt reference, or the tag a dev build is pushed under."""
    if image.ref:
        return image.ref
    assert image.build is not None  # config validation: exactly one of ref/build
    return image.build.tag_reference(model.name, model.model_version)


@dataclass(frozen=True)
class ModelServiceParts:
    config: ModelServiceConfig
    manifests: list[Manifest]
    rollout: RolloutPlan
    images: dict[str, Any]  # image slot ("primary", "candidate") → reference or Output
    url: str


@dataclass(frozen=True)
class Platform:
    namespace: list[Manifest]
    tracking: list[Manifest]
    monitoring: list[Manifest]
    retraining: list[Manifest]
    models: dict[str, ModelServiceParts]
    urls: dict[str, str]  # mlflow, prometheus, grafana: "" when the part is off

    def manifests(self) -> list[Manifest]:
        objects = self.namespace + self.tracking + self.monitoring + self.retraining
        for part in self.models.values():
            objects += part.manifests
        return objects


def _model_service(cfg: StackConfig, model: ModelServiceConfig, resolve_image: ImageResolver) -> ModelServiceParts:
    primary = resolve_image("primary", model.image, model)
    candidate_config = strategies.STRATEGIES[model.strategy].candidate_image(model)
    candidate = resolve_image("candidate", candidate_config, model) if candidate_config else primary
    images = {"primary": primary, "candidate": candidate}
    manifests, rollout = model_service_manifests(cfg, model, images)
    return ModelServiceParts(model, place(cfg, manifests), rollout, images, service_url(cfg, model))


def platform(cfg: StackConfig, secrets: Mapping[str, Any], resolve_image: ImageResolver = reference_of) -> Platform:
    """Raises ConfigError (naming the config key that owns each object) where the API server would refuse a name or
    a label, or where two parts would make one object."""
    monitoring = cfg.monitoring
    built = Platform(
        namespace=namespace_manifests(cfg),
        tracking=place(cfg, tracking_manifests(cfg, secrets.get("postgresPassword"))),
        monitoring=place(cfg, monitoring_manifests(cfg, secrets.get("grafanaAdminPassword"))),
        retraining=place(cfg, retraining_manifests(cfg)),
        models={model.name: _model_service(cfg, model, resolve_image) for model in cfg.models},
        urls={
            "mlflow": tracking_url(cfg) if cfg.tracking.enabled else "",
            "prometheus": prometheus_url(cfg) if monitoring.enabled else "",
            "grafana": grafana_url(cfg) if monitoring.enabled and monitoring.grafana else "",
        },
    )
    names.check(
        [
            ("namespace", built.namespace),
            ("tracking", built.tracking),
            ("monitoring", built.monitoring),
            ("models[].modelName (its retraining CronJob)", built.retraining),
            *((f"models[{i}].name", built.models[m.name].manifests) for i, m in enumerate(cfg.models)),
        ]
    )
    return built
