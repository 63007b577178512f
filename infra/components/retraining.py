from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.config import StackConfig
from infra.manifests.retraining import retraining_manifests


class Retraining(ManifestComponent):
    """Scheduled retraining CronJobs (one per served model)."""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlops-kit:platform:Retraining", name, cfg.protect_stateful, opts)
        self.register(retraining_manifests(cfg))
        self.schedule = pulumi.Output.from_input(cfg.retraining.schedule if cfg.retraining.enabled else "")
        self.register_outputs({"schedule": self.schedule})
