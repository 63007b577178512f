"""Shared manifest pieces: labels, secure-by-default pod and container settings, small constructors."""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]

PART_OF = "mlops-kit"
MANAGED_BY = "pulumi"
# Pods that may talk to a component carry `mlops-kit.io/client-<component>: "true"`; NetworkPolicies select on it.
CLIENT_LABEL = "mlops-kit.io/client-{component}"


def labels(component: str, instance: str, **extra: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        **extra,
    }


def selector(component: str, instance: str, **extra: str) -> dict[str, str]:
    """The stable subset of labels used in selectors (selectors are immutable on Deployments)."""
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": instance, **extra}


def metadata(
    name: str, namespace: str | None, labels_: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels_)}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def pod_security(uid: int, gid: int | None = None, fs_group: int | None = None) -> dict[str, Any]:
    """Pod-level settings that satisfy the Pod Security Standard `restricted`."""
    context: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": gid if gid is not None else uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if fs_group is not None:
        context["fsGroup"] = fs_group
        context["fsGroupChangePolicy"] = "OnRootMismatch"
    return context


def pod_template(
    pod_labels: dict[str, str],
    service_account_name: str,
    uid: int,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    *,
    fs_group: bool = True,
    api_token: bool = False,
    annotations: dict[str, str] | None = None,
    **spec_fields: Any,
) -> dict[str, Any]:
    """The pod template every workload uses: its own ServiceAccount, no API token unless it calls the API,
    restricted pod security. Extra pod-spec fields (restartPolicy, terminationGracePeriodSeconds…) pass through."""
    meta: dict[str, Any] = {"labels": dict(pod_labels)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "metadata": meta,
        "spec": {
            "serviceAccountName": service_account_name,
            "automountServiceAccountToken": api_token,
            "securityContext": pod_security(uid, fs_group=uid if fs_group else None),
            "containers": containers,
            "volumes": volumes,
            **spec_fields,
        },
    }


def container_security(read_only_root: bool = True) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(
    path: str, port: int | str, period: int = 10, failures: int = 3, initial_delay: int = 0
) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 5,
    }
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    return probe


def service_account(name: str, namespace: str, labels_: dict[str, str]) -> Manifest:
    # No workload here calls the Kubernetes API except Prometheus (which mounts its token explicitly).
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, namespace, labels_),
        "automountServiceAccountToken": False,
    }


def pvc(name: str, namespace: str, labels_: dict[str, str], size: str, storage_class: str | None) -> Manifest:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(name, namespace, labels_),
        "spec": spec,
    }


def service(
    name: str, namespace: str, labels_: dict[str, str], select: dict[str, str], port: int, target: int | str = "http"
) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, labels_),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(select),
            "ports": [{"name": "http", "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }


def network_policy(
    name: str,
    namespace: str,
    labels_: dict[str, str],
    pod_selector: dict[str, str],
    ingress_from: list[dict[str, Any]],
    ports: list[int],
) -> Manifest:
    """Allow ingress to the selected pods on `ports` from the given peers (the namespace default is deny-all)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace, labels_),
        "spec": {
            "podSelector": {"matchLabels": dict(pod_selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": ingress_from, "ports": [{"protocol": "TCP", "port": p} for p in ports]}],
        },
    }


def pods_with(labels_: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(labels_)}}


def tmp_volume(name: str = "tmp", size: str = "64Mi") -> dict[str, Any]:
    """A writable scratch dir for containers with a read-only root filesystem."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}
