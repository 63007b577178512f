"""Config of scheduled retraining."""

from __future__ import annotations

from pydantic import Field

from infra.config.types import KIT_REGISTRY, ImageRef, Model, Resources


class RetrainingConfig(Model):
    """Scheduled retraining: one CronJob per served model runs `mlops-kit train` against the in-cluster MLflow; the
    gate decides whether the new version becomes champion. `mlops-kit retrain -s ENV` starts one now (the drift
    alert's runbook)."""

    enabled: bool = True
    schedule: str = Field("0 3 * * 1", pattern=r"^(\S+\s+){4}\S+$", description="cron: minute hour day month weekday")
    image: ImageRef = f"{KIT_REGISTRY}/training:0.1.0"
    dataset: str = "breast_cancer"
    resources: Resources = Resources(cpu_request="500m", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi")
