"""MLflow tracking server + model registry: artifacts on a PVC served through the server (clients need no storage
credentials), sqlite on the same PVC for dev or PostgreSQL (StatefulSet, password from a Pulumi secret) otherwise."""

from __future__ import annotations

from typing import Any

from infra.config import StackConfig, TrackingBackend
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

NAME = "mlflow"
PORT = 5000
POSTGRES = "mlflow-postgres"
POSTGRES_PORT = 5432
MLFLOW_UID = 10001
POSTGRES_UID = 10001  # images/postgres: initdb needs the uid its passwd names


def tracking_url(cfg: StackConfig) -> str:
    return f"http://{NAME}.{cfg.namespace}.svc:{PORT}"


def allowed_hosts(namespace: str) -> str:
    """MLflow rejects unknown Host headers with 403 (health checks are exempt, so probes pass regardless)."""
    names = [NAME, f"{NAME}.{namespace}", f"{NAME}.{namespace}.svc", f"{NAME}.{namespace}.svc.cluster.local"]
    return ",".join([*names, *(f"{n}:{PORT}" for n in names), "localhost:*", "127.0.0.1:*"])


def _backend_uri(cfg: StackConfig) -> str:
    if cfg.tracking.backend is TrackingBackend.sqlite:
        return "sqlite:////mlflow/mlflow.db"
    # $(POSTGRES_PASSWORD) is expanded by the kubelet from the Secret-backed env var, so the password is never in the spec.
    return f"postgresql://mlflow:$(POSTGRES_PASSWORD)@{POSTGRES}.{cfg.namespace}.svc:{POSTGRES_PORT}/mlflow"


def _mlflow_deployment(cfg: StackConfig) -> Manifest:
    ns, t = cfg.namespace, cfg.tracking
    pod_labels = labels(NAME, NAME, **{CLIENT_LABEL.format(component="postgres"): "true"})
    env: list[dict[str, Any]] = [
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},  # 2 processes / ~500 MB instead of 9 / 1.7 GB
        {"name": "HOME", "value": "/tmp"},
    ]
    if t.backend is TrackingBackend.postgres:
        env.append({"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": POSTGRES, "key": "password"}}})
    container = {
        "name": NAME,
        "image": t.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["mlflow"],
        "args": [
            "server",
            "--backend-store-uri",
            _backend_uri(cfg),
            "--artifacts-destination",
            "/mlflow/artifacts",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
            "--workers",
            "1",
            "--allowed-hosts",
            allowed_hosts(ns),
        ],
        "env": env,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": t.resources.as_kubernetes(),
        "startupProbe": http_probe("/health", "http", period=5, failures=60),
        "readinessProbe": http_probe("/health", "http"),
        "livenessProbe": http_probe("/health", "http", period=20),
        "securityContext": container_security(read_only_root=True),
        "volumeMounts": [{"name": "data", "mountPath": "/mlflow"}, {"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(NAME, ns, labels(NAME, NAME)),
        "spec": {
            "replicas": 1,
            # One writer on a ReadWriteOnce volume: never run old and new side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(NAME, NAME)},
            "template": pod_template(
                pod_labels,
                NAME,
                MLFLOW_UID,
                [container],
                [
                    {"name": "data", "persistentVolumeClaim": {"claimName": f"{NAME}-data"}},
                    tmp_volume(size="512Mi"),
                ],
            ),
        },
    }


def _postgres(cfg: StackConfig, password: Any) -> list[Manifest]:
    ns, t = cfg.namespace, cfg.tracking
    own = labels("postgres", POSTGRES)
    storage_claim = {
        "metadata": {"name": "data", "labels": own},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": t.postgres_storage_size}}},
    }
    if cfg.storage_class:
        storage_claim["spec"]["storageClassName"] = cfg.storage_class
    exec_ready = {
        "exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow"]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
    }
    container = {
        "name": "postgres",
        "image": t.postgres_image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {"name": "POSTGRES_USER", "value": "mlflow"},
            {"name": "POSTGRES_DB", "value": "mlflow"},
            {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": POSTGRES, "key": "password"}}},
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ],
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "readinessProbe": exec_ready,
        "livenessProbe": {**exec_ready, "periodSeconds": 30, "failureThreshold": 5},
        "securityContext": container_security(read_only_root=True),
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(POSTGRES, ns, own),
            "type": "Opaque",
            "stringData": {"password": password},
        },
        service_account(POSTGRES, ns, own),
        service(POSTGRES, ns, own, selector("postgres", POSTGRES), POSTGRES_PORT, "postgres"),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": metadata(POSTGRES, ns, own),
            "spec": {
                "serviceName": POSTGRES,
                "replicas": 1,
                "selector": {"matchLabels": selector("postgres", POSTGRES)},
                "template": pod_template(
                    own, POSTGRES, POSTGRES_UID, [container], [tmp_volume("run", "16Mi"), tmp_volume()]
                ),
                "volumeClaimTemplates": [storage_claim],
            },
        },
        network_policy(
            f"{POSTGRES}-ingress",
            ns,
            own,
            selector("postgres", POSTGRES),
            [pods_with({CLIENT_LABEL.format(component="postgres"): "true"})],
            [POSTGRES_PORT],
        ),
    ]


def tracking_manifests(cfg: StackConfig, postgres_password: Any = None) -> list[Manifest]:
    if not cfg.tracking.enabled:
        return []
    ns = cfg.namespace
    own = labels(NAME, NAME)
    objects: list[Manifest] = []
    if cfg.tracking.backend is TrackingBackend.postgres:
        if postgres_password is None:
            raise ValueError("tracking.backend postgres needs the secret mlops-kit:postgresPassword")
        objects += _postgres(cfg, postgres_password)
    objects += [
        service_account(NAME, ns, own),
        pvc(f"{NAME}-data", ns, own, cfg.tracking.storage_size, cfg.storage_class),
        _mlflow_deployment(cfg),
        service(NAME, ns, own, selector(NAME, NAME), PORT),
        network_policy(
            f"{NAME}-ingress",
            ns,
            own,
            selector(NAME, NAME),
            [pods_with({CLIENT_LABEL.format(component="mlflow"): "true"})],
            [PORT],
        ),
    ]
    return objects
