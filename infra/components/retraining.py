from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.manifests.common import Manifest


class Retraining(ManifestComponent):
    """Scheduled retraining CronJobs (one per served model)."""

    schedule: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        manifests: list[Manifest],
        schedule: str,
        protect_stateful: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops-kit:platform:Retraining", name, protect_stateful, opts)
        self.register(manifests)
        self.schedule = pulumi.Output.from_input(schedule)
        self.register_outputs({"schedule": self.schedule})
