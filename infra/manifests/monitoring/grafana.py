"""Grafana: the Prometheus datasource and the repo's dashboards, provisioned read-only."""

from __future__ import annotations

from typing import Any

from infra.config import Resources, StackConfig
from infra.manifests.common import (
    CLIENT_LABEL,
    Manifest,
    container_security,
    http_probe,
    labels,
    metadata,
    network_policy,
    pod_template,
    pods_with,
    selector,
    service,
    service_account,
    tmp_volume,
)
from infra.manifests.monitoring.files import as_yaml, checksum, dashboard_files
from infra.manifests.monitoring.prometheus import INSTANCE, PROMETHEUS_CLIENT, prometheus_url

GRAFANA = "grafana"
GRAFANA_PORT = 3000
GRAFANA_UID = 472  # the grafana/grafana image's user
GRAFANA_RESOURCES = Resources(cpu_request="50m", memory_request="128Mi", cpu_limit="500m", memory_limit="512Mi")
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
DATASOURCE_UID = "prometheus"
HOME_DASHBOARD = "model-service.json"
GRAFANA_CLIENT = {CLIENT_LABEL.format(component=GRAFANA): "true"}


def grafana_url(cfg: StackConfig) -> str:
    return f"http://{GRAFANA}.{cfg.namespace}.svc:{GRAFANA_PORT}"


def grafana_pods() -> dict[str, Any]:
    """Grafana's pods as a NetworkPolicy peer (Prometheus lets them in)."""
    return pods_with(selector(GRAFANA, INSTANCE))


def grafana_manifests(cfg: StackConfig, admin_password: Any) -> list[Manifest]:
    ns, m = cfg.namespace, cfg.monitoring
    own = labels(GRAFANA, INSTANCE)
    datasources = {
        "prometheus.yaml": as_yaml(
            {
                "apiVersion": 1,
                "datasources": [
                    {
                        "name": "Prometheus",
                        "uid": DATASOURCE_UID,
                        "type": "prometheus",
                        "access": "proxy",
                        "url": prometheus_url(cfg),
                        "isDefault": True,
                        "editable": False,
                        "jsonData": {"timeInterval": m.scrape_interval, "httpMethod": "POST"},
                    }
                ],
            }
        )
    }
    provider = {
        "mlops-kit.yaml": as_yaml(
            {
                "apiVersion": 1,
                "providers": [
                    {
                        "name": "mlops-kit",
                        "orgId": 1,
                        "folder": "mlops-kit",
                        "type": "file",
                        "disableDeletion": True,
                        "allowUiUpdates": False,
                        "updateIntervalSeconds": 60,
                        "options": {"path": GRAFANA_DASHBOARDS_DIR},
                    }
                ],
            }
        )
    }
    dashboards = dashboard_files()
    secret_env = [
        {
            "name": "GF_SECURITY_ADMIN_USER",
            "valueFrom": {"secretKeyRef": {"name": GRAFANA_ADMIN_SECRET, "key": "admin-user"}},
        },
        {
            "name": "GF_SECURITY_ADMIN_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": GRAFANA_ADMIN_SECRET, "key": "admin-password"}},
        },
    ]
    settings = {
        "GF_PATHS_DATA": "/var/lib/grafana",
        "GF_PATHS_PLUGINS": "/var/lib/grafana/plugins",
        "GF_LOG_MODE": "console",  # the default also writes /var/log/grafana, which the read-only root cannot hold
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        # No phoning home: the namespace allows no egress beyond itself anyway.
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        "GF_ANALYTICS_FEEDBACK_LINKS_ENABLED": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
        "GF_PLUGINS_PREINSTALL_DISABLED": "true",
    }
    if HOME_DASHBOARD in dashboards:
        settings["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] = f"{GRAFANA_DASHBOARDS_DIR}/{HOME_DASHBOARD}"
    container = {
        "name": GRAFANA,
        "image": m.grafana_image,
        "imagePullPolicy": "IfNotPresent",
        "env": secret_env + [{"name": k, "value": v} for k, v in settings.items()],
        "ports": [{"name": "http", "containerPort": GRAFANA_PORT, "protocol": "TCP"}],
        "resources": GRAFANA_RESOURCES.as_kubernetes(),
        "startupProbe": http_probe("/api/health", "http", period=5, failures=60),
        "readinessProbe": http_probe("/api/health", "http", period=10),
        "livenessProbe": http_probe("/api/health", "http", period=20, failures=6),
        "securityContext": container_security(read_only_root=True),
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources", "readOnly": True},
            {"name": "dashboard-provider", "mountPath": "/etc/grafana/provisioning/dashboards", "readOnly": True},
            {"name": "dashboards", "mountPath": GRAFANA_DASHBOARDS_DIR, "readOnly": True},
        ],
    }
    pod_labels = labels(GRAFANA, INSTANCE, **PROMETHEUS_CLIENT)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(GRAFANA, ns, own),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(GRAFANA, INSTANCE)},
            "template": pod_template(
                pod_labels,
                GRAFANA,
                GRAFANA_UID,
                [container],
                [
                    # Grafana's state (sqlite, sessions) is rebuilt from provisioning on every start: nothing to keep.
                    tmp_volume("data", "512Mi"),
                    tmp_volume(),
                    {"name": "datasources", "configMap": {"name": "grafana-datasources"}},
                    {"name": "dashboard-provider", "configMap": {"name": "grafana-dashboard-provider"}},
                    {"name": "dashboards", "configMap": {"name": "grafana-dashboards"}},
                ],
                annotations={"mlops-kit.io/config-checksum": checksum({**datasources, **provider, **dashboards})},
                enableServiceLinks=False,
            ),
        },
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(GRAFANA_ADMIN_SECRET, ns, own),
            "type": "Opaque",
            "stringData": {"admin-user": GRAFANA_ADMIN_USER, "admin-password": admin_password},
        },
        service_account(GRAFANA, ns, own),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("grafana-datasources", ns, own),
            "data": datasources,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("grafana-dashboard-provider", ns, own),
            "data": provider,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("grafana-dashboards", ns, own),
            "data": dashboards,
        },
        deployment,
        service(GRAFANA, ns, own, selector(GRAFANA, INSTANCE), GRAFANA_PORT),
        network_policy(
            "grafana-ingress", ns, own, selector(GRAFANA, INSTANCE), [pods_with(GRAFANA_CLIENT)], [GRAFANA_PORT]
        ),
    ]
