"""Prometheus: discovers the annotated pods of the namespace, evaluates the repo's recording and alert rules."""

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
    pvc,
    selector,
    service,
    service_account,
    tmp_volume,
)
from infra.manifests.monitoring.files import as_yaml, checksum, rule_files

INSTANCE = "monitoring"
PROMETHEUS = "prometheus"
PROMETHEUS_PORT = 9090
PROMETHEUS_UID = 10001  # images/prometheus runs as the kit's uid; the data volume is the fsGroup's
PROMETHEUS_RESOURCES = Resources(cpu_request="100m", memory_request="512Mi", cpu_limit="1", memory_limit="2Gi")
PROMETHEUS_CONFIG_DIR = "/etc/prometheus/config"
PROMETHEUS_RULES_DIR = "/etc/prometheus/rules"
SCRAPE_JOB = "kubernetes-pods"  # the job label of every model-server series (ModelServiceDown selects on it)
# Pods allowed to query Prometheus carry this label (the rollout analysis' Jobs, Grafana).
PROMETHEUS_CLIENT = {CLIENT_LABEL.format(component=PROMETHEUS): "true"}


def prometheus_url(cfg: StackConfig) -> str:
    return f"http://{PROMETHEUS}.{cfg.namespace}.svc:{PROMETHEUS_PORT}"


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


def prometheus_manifests(cfg: StackConfig, extra_clients: list[dict[str, Any]]) -> list[Manifest]:
    ns, m = cfg.namespace, cfg.monitoring
    own = labels(PROMETHEUS, INSTANCE)
    config = {"prometheus.yml": as_yaml(prometheus_config(cfg))}
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
                annotations={"mlops-kit.io/config-checksum": checksum({**config, **rules})},
                enableServiceLinks=False,
                terminationGracePeriodSeconds=60,
            ),
        },
    }
    clients = [*extra_clients, pods_with(PROMETHEUS_CLIENT)]
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
