from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.manifests.common import Manifest


class Tracking(ManifestComponent):
    """MLflow tracking server + model registry (and its PostgreSQL where the stack uses one)."""

    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        manifests: list[Manifest],
        url: str,
        protect_stateful: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops-kit:platform:Tracking", name, protect_stateful, opts)
        self.register(manifests)
        self.url = pulumi.Output.from_input(url)
        self.register_outputs({"url": self.url})
