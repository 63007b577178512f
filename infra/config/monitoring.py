"""Config of monitoring: Prometheus (scraping, rules, retention) and Grafana."""

from __future__ import annotations

from pydantic import Field

from infra.config.types import KIT_REGISTRY, ImageRef, Model, Quantity


class MonitoringConfig(Model):
    enabled: bool = True
    prometheus_image: ImageRef = f"{KIT_REGISTRY}/prometheus:3.16.0"
    grafana_image: ImageRef = "grafana/grafana:11.2.0"
    retention: str = Field("7d", pattern=r"^[0-9]+(h|d|w|y)$")
    storage_size: Quantity = "5Gi"
    scrape_interval: str = Field("15s", pattern=r"^[0-9]+(s|m)$")
    grafana: bool | None = Field(
        None,
        description="Run Grafana with the repo's dashboards. Default: yes, except on the kit's local cluster, where "
        "no Grafana image exists (AGPL: not built here) and the dashboards are read with `mlops-kit dashboards`.",
    )
