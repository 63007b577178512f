"""Monitoring: Prometheus (discovers the annotated model-server pods of the namespace, evaluates the repo's recording
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

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

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
    pvc,
    selector,
    service,
    service_account,
    tmp_volume,
)
from mlops_kit.paths import REPO_ROOT

MONITORING_DIR = REPO_ROOT / "infra" / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
DASHBOARDS_DIR = MONITORING_DIR / "dashboards"

INSTANCE = "monitoring"
PROMETHEUS = "prometheus"
PROMETHEUS_PORT = 9090
PROMETHEUS_UID = 65534  # `nobody`, the prom/prometheus image's user
PROMETHEUS_RESOURCES = Resources(cpu_request="100m", memory_request="512Mi", cpu_limit="1", memory_limit="2Gi")
PROMETHEUS_CONFIG_DIR = "/etc/prometheus/config"
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
SCRAPE_JOB = "kubernetes-pods"  # the job label of every model-server series (ModelServiceDown selects on it)

GRAFANA = "grafana"
GRAFANA_PORT = 3000
GRAFANA_UID = 472  # the grafana/grafana image's user
GRAFANA_RESOURCES = Resources(cpu_request="50m", memory_request="128Mi", cpu_limit="500m", memory_limit="512Mi")
GRAFANA_ADMIN_SECRET = "grafana-admin"
GRAFANA_ADMIN_USER = "admin"
GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards"
DATASOURCE_UID = "prometheus"
HOME_DASHBOARD = "model-service.json"

# Pods allowed to query Prometheus carry this label (the rollout gates' Jobs, Grafana).
PROMETHEUS_CLIENT = {CLIENT_LABEL.format(component=PROMETHEUS): "true"}
GRAFANA_CLIENT = {CLIENT_LABEL.format(component=GRAFANA): "true"}


def prometheus_url(cfg: StackConfig) -> str:
    return f"http://{PROMETHEUS}.{cfg.namespace}.svc:{PROMETHEUS_PORT}"


def grafana_url(cfg: StackConfig) -> str:
    return f"http://{GRAFANA}.{cfg.namespace}.svc:{GRAFANA_PORT}"


def _repo_files(directory: Path, pattern: str, check: Callable[[Path, str], None]) -> dict[str, str]:
    """Every file of the repo matching `pattern`, by file name (the ConfigMap key), as written, once `check` passed."""
    files: dict[str, str] = {}
    for path in sorted(directory.glob(pattern)):
        text = path.read_text()
        check(path, text)
        files[path.name] = text
    return files


def _check_rule_file(path: Path, text: str) -> None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc}); check it with `promtool check rules {path}`") from None
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError(f"{path}: a Prometheus rule file needs a top-level `groups:` list")


def _check_dashboard(path: Path, text: str) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not document.get("uid") or not document.get("title"):
        raise ValueError(f"{path}: a provisioned dashboard needs a `uid` and a `title`")


def rule_files(directory: Path = RULES_DIR) -> dict[str, str]:
    """Every Prometheus rule file of the repo, by file name, as written."""
    return _repo_files(directory, "*.yaml", _check_rule_file)


def dashboard_files(directory: Path = DASHBOARDS_DIR) -> dict[str, str]:
    """Every Grafana dashboard of the repo, by file name, as written."""
    return _repo_files(directory, "*.json", _check_dashboard)


def _checksum(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def _pod_label(name: str) -> str:
    """The discovery meta label of a pod label (Prometheus turns every non-alphanumeric character into `_`)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in name)


def prometheus_config(cfg: StackConfig) -> dict[str, Any]:
    """prometheus.yml: scrape the pods of this namespace that ask for it (`prometheus.io/scrape: "true"`)."""
    m = cfg.monitoring
    target_labels = {
        "service": "app.kubernetes.io/instance",
        "component": "app.kubernetes.io/name",
        "track": "mlops-kit.io/track",
        "color": "mlops-kit.io/color",
    }
    relabel: list[dict[str, Any]] = [
        {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], "regex": "true", "action": "keep"},
        # Completed or failed pods keep their IP for a while; scraping them would only report them down.
        {"source_labels": ["__meta_kubernetes_pod_phase"], "regex": "Succeeded|Failed", "action": "drop"},
        {
            "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_path"],
            "regex": "(.+)",
            "target_label": "__metrics_path__",
            "action": "replace",
        },
        # Address = pod IP + the annotated port (IPv6 addresses need brackets).
        {
            "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
            "regex": "(\\d+);(.*:.*)",
            "replacement": "[$2]:$1",
            "target_label": "__address__",
            "action": "replace",
        },
        {
            "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_port", "__meta_kubernetes_pod_ip"],
            "regex": "(\\d+);([^:]+)",
            "replacement": "$2:$1",
            "target_label": "__address__",
            "action": "replace",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod", "action": "replace"},
        *(
            {"source_labels": [_pod_label(pod_label)], "target_label": target, "action": "replace"}
            for target, pod_label in target_labels.items()
        ),
    ]
    return {
        "global": {
            "scrape_interval": m.scrape_interval,
            "evaluation_interval": m.scrape_interval,
            "external_labels": {"environment": cfg.environment.value},
        },
        "rule_files": [f"{PROMETHEUS_RULES_DIR}/*.yaml"],
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOB,
                "honor_labels": False,
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [cfg.namespace]}}],
                "relabel_configs": relabel,
            }
        ],
    }


def _prometheus(cfg: StackConfig, grafana: bool) -> list[Manifest]:
    ns, m = cfg.namespace, cfg.monitoring
    own = labels(PROMETHEUS, INSTANCE)
    config = {"prometheus.yml": _yaml(prometheus_config(cfg))}
    rules = rule_files()
    container = {
        "name": PROMETHEUS,
        "image": m.prometheus_image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            f"--config.file={PROMETHEUS_CONFIG_DIR}/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={m.retention}",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ],
        "ports": [{"name": "http", "containerPort": PROMETHEUS_PORT, "protocol": "TCP"}],
        "resources": PROMETHEUS_RESOURCES.as_kubernetes(),
        # Replaying a large WAL after a restart can take minutes; liveness only starts once the server is ready.
        "startupProbe": http_probe("/-/ready", "http", period=5, failures=120),
        "readinessProbe": http_probe("/-/ready", "http", period=10),
        "livenessProbe": http_probe("/-/healthy", "http", period=15, failures=4),
        "securityContext": container_security(read_only_root=True),
        "volumeMounts": [
            {"name": "config", "mountPath": PROMETHEUS_CONFIG_DIR, "readOnly": True},
            {"name": "rules", "mountPath": PROMETHEUS_RULES_DIR, "readOnly": True},
            {"name": "data", "mountPath": "/prometheus"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(PROMETHEUS, ns, own),
        "spec": {
            "replicas": 1,
            # One writer on a ReadWriteOnce volume (the TSDB locks its directory): never run old and new side by side.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(PROMETHEUS, INSTANCE)},
            "template": pod_template(
                own,
                PROMETHEUS,
                PROMETHEUS_UID,
                [container],
                [
                    {"name": "config", "configMap": {"name": "prometheus-config"}},
                    {"name": "rules", "configMap": {"name": "prometheus-rules"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "prometheus-data"}},
                    tmp_volume(),
                ],
                # The one workload that calls the Kubernetes API (pod discovery), with a namespace-scoped Role.
                api_token=True,
                # Config and rules are read at start: a change of either rolls the pod.
                annotations={"mlops-kit.io/config-checksum": _checksum({**config, **rules})},
                enableServiceLinks=False,
                terminationGracePeriodSeconds=60,
            ),
        },
    }
    clients = [pods_with(PROMETHEUS_CLIENT)]
    if grafana:
        clients.insert(0, pods_with(selector(GRAFANA, INSTANCE)))
    return [
        {**service_account(PROMETHEUS, ns, own), "automountServiceAccountToken": True},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(PROMETHEUS, ns, own),
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "services", "endpoints"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(PROMETHEUS, ns, own),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": PROMETHEUS},
            "subjects": [{"kind": "ServiceAccount", "name": PROMETHEUS, "namespace": ns}],
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("prometheus-config", ns, own), "data": config},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata("prometheus-rules", ns, own), "data": rules},
        pvc("prometheus-data", ns, own, m.storage_size, cfg.storage_class),
        deployment,
        service(PROMETHEUS, ns, own, selector(PROMETHEUS, INSTANCE), PROMETHEUS_PORT),
        network_policy("prometheus-ingress", ns, own, selector(PROMETHEUS, INSTANCE), clients, [PROMETHEUS_PORT]),
        {
            # The namespace's default-deny also denies egress; discovery needs the API server, which is no pod and
            # sits at a cluster-specific address (443 on a cloud endpoint, 6443 on kind/k3d nodes).
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata("prometheus-egress-apiserver", ns, own),
            "spec": {
                "podSelector": {"matchLabels": selector(PROMETHEUS, INSTANCE)},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}],
            },
        },
    ]


def _grafana(cfg: StackConfig, admin_password: Any) -> list[Manifest]:
    ns, m = cfg.namespace, cfg.monitoring
    own = labels(GRAFANA, INSTANCE)
    datasources = {
        "prometheus.yaml": _yaml(
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
        "mlops-kit.yaml": _yaml(
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
                annotations={"mlops-kit.io/config-checksum": _checksum({**datasources, **provider, **dashboards})},
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


def monitoring_manifests(cfg: StackConfig, grafana_admin_password: Any = None) -> list[Manifest]:
    """Prometheus (+ Grafana when `monitoring.grafana`); the password may be a plain string or a pulumi Output."""
    m = cfg.monitoring
    if not m.enabled:
        return []
    if m.grafana and grafana_admin_password is None:
        raise ValueError(
            "monitoring.grafana needs the secret mlops-kit:grafanaAdminPassword (pulumi config set --secret)"
        )
    objects = _prometheus(cfg, grafana=m.grafana)
    if m.grafana:
        objects += _grafana(cfg, grafana_admin_password)
    return objects
