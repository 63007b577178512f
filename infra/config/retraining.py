"""Config of scheduled retraining."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from infra.config.cron import check_schedule
from infra.config.types import KIT_REGISTRY, ImageRef, Model, Resources

Schedule = Annotated[str, AfterValidator(check_schedule)]


class RetrainingConfig(Model):
    """Scheduled retraining: one CronJob per served model runs `mlops-kit train` against the in-cluster MLflow; the
    gate decides whether the new version becomes champion. `mlops-kit retrain -s ENV` starts one now (the drift
    alert's runbook)."""

    enabled: bool = True
    schedule: Schedule = Field("0 3 * * 1", description="cron: minute hour day-of-month month day-of-week, or @daily…")
    image: ImageRef = f"{KIT_REGISTRY}/training:0.1.0"
    dataset: str = "breast_cancer"
    resources: Resources = Resources(cpu_request="500m", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi")
