from __future__ import annotations

from typing import Any

import pulumi

from infra.components.base import ManifestComponent
from infra.config import StackConfig
from infra.manifests.tracking import tracking_manifests, tracking_url


class Tracking(ManifestComponent):
    """MLflow tracking server + model registry (and its PostgreSQL where the stack uses one)."""

    url: pulumi.Output[str]

    def __init__(
        self, name: str, cfg: StackConfig, postgres_password: Any = None, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops-kit:platform:Tracking", name, cfg.protect_stateful, opts)
        self.register(tracking_manifests(cfg, postgres_password))
        self.url = pulumi.Output.from_input(tracking_url(cfg))
        self.register_outputs({"url": self.url})
