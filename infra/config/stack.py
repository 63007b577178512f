"""The whole stack's config: one model per part, the cross-part rules, and the per-environment defaults."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from infra.config.cluster import ClusterConfig, QuotaConfig
from infra.config.model_service import ModelServiceConfig
from infra.config.monitoring import MonitoringConfig
from infra.config.promotion import PromotionConfig
from infra.config.retraining import RetrainingConfig
from infra.config.tracking import TrackingConfig
from infra.config.types import DIGEST_REF, DnsLabel, Environment, Model

# Namespaces the cluster owns: the kit's objects (quota, NetworkPolicies, a default-deny) must never land there.
RESERVED_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class StackConfig(Model):
    environment: Environment
    namespace: DnsLabel = "mlops"
    storage_class: str | None = None
    protect_stateful: bool = False
    cluster: ClusterConfig = ClusterConfig()
    quota: QuotaConfig = QuotaConfig()
    tracking: TrackingConfig = TrackingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    promotion: PromotionConfig = PromotionConfig()
    models: list[ModelServiceConfig] = Field(default_factory=list)

    @field_validator("namespace")
    @classmethod
    def _own_namespace(cls, namespace: str) -> str:
        if namespace in RESERVED_NAMESPACES or namespace.startswith("kube-"):
            raise ValueError(
                f"{namespace!r} belongs to the cluster ({', '.join(RESERVED_NAMESPACES)} and kube-*); the kit needs "
                "a namespace of its own, e.g. mlops-dev"
            )
        return namespace

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelServiceConfig]) -> list[ModelServiceConfig]:
        seen: set[str] = set()
        duplicates = sorted({m.name for m in models if m.name in seen or seen.add(m.name)})
        if duplicates:
            raise ValueError(f"model names must be unique; duplicated: {duplicates}")
        return models

    @model_validator(mode="after")
    def _grafana_where_it_can_run(self) -> StackConfig:
        wanted = self.monitoring.grafana
        if wanted and self.cluster.is_local:
            raise ValueError(
                "monitoring.grafana: the kit's local cluster has no Grafana image (Grafana is AGPL and not built "
                "here); set monitoring.grafana: false and read the dashboards with `mlops-kit dashboards`, or point "
                "cluster.context at another cluster"
            )
        if wanted is None:
            resolved = self.monitoring.model_copy(update={"grafana": not self.cluster.is_local})
            object.__setattr__(self, "monitoring", resolved)
        return self

    @model_validator(mode="after")
    def _analysis_windows_hold_four_scrapes(self) -> StackConfig:
        # A rate needs two samples in its window, and scrapes drift: Prometheus' rule of thumb is four scrapes per
        # window (with two, a measurement now and then finds one sample and no series).
        text = self.monitoring.scrape_interval
        scrape = int(text[:-1]) * (60 if text.endswith("m") else 1)
        for index, model in enumerate(self.models):
            if model.analysis.interval_seconds < 4 * scrape:
                raise ValueError(
                    f"models[{index}].analysis.intervalSeconds {model.analysis.interval_seconds} is shorter than four "
                    f"scrapes (monitoring.scrapeInterval {text}): use at least {4 * scrape}"
                )
        return self

    @model_validator(mode="after")
    def _promoted_environments_use_digests(self) -> StackConfig:
        # Promotion moves the exact image: a tag could point at something else by the time staging/prod pull it.
        if self.environment is Environment.dev:
            return self
        for index, model in enumerate(self.models):
            for where, image in model.images():
                if image.build is not None:
                    raise ValueError(
                        f"models[{index}].{where}.build: only dev builds images; {self.environment} runs promoted digests (set {where}.ref)"
                    )
                if image.ref and not DIGEST_REF.match(image.ref):
                    raise ValueError(
                        f"models[{index}].{where}.ref {image.ref!r}: {self.environment} needs an image by digest (name@sha256:<64 hex>)"
                    )
        return self


# Per-environment defaults: what each stack gets unless its Pulumi.<env>.yaml says otherwise.
ENVIRONMENT_DEFAULTS: dict[Environment, dict[str, Any]] = {
    Environment.dev: {"protectStateful": False, "tracking": {"backend": "sqlite"}},
    Environment.staging: {
        "protectStateful": False,
        "tracking": {"backend": "postgres"},
        "promotion": {"source": "dev"},
    },
    Environment.prod: {
        "protectStateful": True,
        "tracking": {"backend": "postgres"},
        "promotion": {"source": "staging"},
    },
}
MODEL_DEFAULTS: dict[Environment, dict[str, Any]] = {
    Environment.dev: {"replicas": 1, "strategy": "rolling"},
    Environment.staging: {
        "replicas": 2,
        "strategy": "canary",
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4},
    },
    Environment.prod: {
        "replicas": 3,
        "strategy": "blue-green",
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10},
    },
}
