from __future__ import annotations

from typing import Any

import pulumi

from infra.components.base import ManifestComponent
from infra.config import StackConfig
from infra.manifests.monitoring import grafana_url, monitoring_manifests, prometheus_url


class Monitoring(ManifestComponent):
    """Prometheus (discovery of annotated pods, the repo's alert/recording rules) and Grafana (provisioned dashboards)."""

    prometheus_url: pulumi.Output[str]
    grafana_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        grafana_admin_password: Any = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops-kit:platform:Monitoring", name, cfg.protect_stateful, opts)
        self.register(monitoring_manifests(cfg, grafana_admin_password))
        enabled = cfg.monitoring.enabled
        self.prometheus_url = pulumi.Output.from_input(prometheus_url(cfg) if enabled else "")
        self.grafana_url = pulumi.Output.from_input(grafana_url(cfg) if enabled and cfg.monitoring.grafana else "")
        self.register_outputs({"prometheus_url": self.prometheus_url, "grafana_url": self.grafana_url})
