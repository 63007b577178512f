from __future__ import annotations

import pulumi

from infra.components.base import ManifestComponent
from infra.manifests.common import Manifest


class Monitoring(ManifestComponent):
    """Prometheus (discovery of annotated pods, the repo's alert/recording rules) and Grafana (provisioned dashboards)."""

    prometheus_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        manifests: list[Manifest],
        urls: dict[str, str],
        protect_stateful: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops-kit:platform:Monitoring", name, protect_stateful, opts)
        self.register(manifests)
        self.prometheus_url = pulumi.Output.from_input(urls["prometheus"])
        self.grafana_url = pulumi.Output.from_input(urls["grafana"])
        self.register_outputs({"prometheus_url": self.prometheus_url, "grafana_url": self.grafana_url})
