"""Monitoring, one module per server (`prometheus`, `grafana`) plus the repo files they load (`files`): Prometheus (discovers the annotated model-server pods of the namespace, evaluates the repo's recording
and alert rules) and Grafana (Prometheus datasource and the repo's dashboards, provisioned read-only).

Rules and dashboards are files in the repo (`infra/monitoring/rules/*.yaml`, `infra/monitoring/dashboards/*.json`), read
when the manifests are built: what promtool tests in CI is exactly what Prometheus loads.

Every scraped series gets these target labels (the recording rules and the rollout gates rely on them):
  namespace, pod   where the series came from
  service          pod label app.kubernetes.io/instance (a model service's name)
  component        pod label app.kubernetes.io/name (e.g. model-service)
  track            pod label mlops-kit.io/track (stable | canary, active | preview), when the pod has it
  color            pod label mlops-kit.io/color (blue | green), when the pod has it
"""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig
from infra.manifests.common import Manifest
from infra.manifests.monitoring.files import DASHBOARDS_DIR, RULES_DIR, dashboard_files, rule_files
from infra.manifests.monitoring.grafana import grafana_manifests, grafana_pods, grafana_url
from infra.manifests.monitoring.prometheus import SCRAPE_JOB, prometheus_config, prometheus_manifests, prometheus_url

__all__ = [
    "DASHBOARDS_DIR", "RULES_DIR", "SCRAPE_JOB", "dashboard_files", "grafana_url", "monitoring_manifests",
    "prometheus_config", "prometheus_url", "rule_files",
]  # fmt: skip


def monitoring_manifests(cfg: StackConfig, grafana_admin_password: Any = None) -> list[Manifest]:
    """Prometheus (+ Grafana when `monitoring.grafana`); the password may be a plain string or a pulumi Output."""
    m = cfg.monitoring
    if not m.enabled:
        return []
    if m.grafana and grafana_admin_password is None:
        raise ValueError(
            "monitoring.grafana needs the secret mlops-kit:grafanaAdminPassword (pulumi config set --secret)"
        )
    objects = prometheus_manifests(cfg, [grafana_pods()] if m.grafana else [])
    if m.grafana:
        objects += grafana_manifests(cfg, grafana_admin_password)
    return objects
