"""A served model: its Deployments (one per rollout track), Services, autoscaling, disruption budget and network policy.

Which tracks and Services exist is the rollout strategy's decision (infra/strategies/); this module only dresses each one
in secure, observable Kubernetes objects.
"""

from __future__ import annotations

from typing import Any

from infra.config import ModelServiceConfig, StackConfig
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
    service_account,
    tmp_volume,
)
from infra.manifests.tracking import tracking_url
from infra.strategies import plan
from infra.strategies.base import RolloutPlan, Track

COMPONENT = "model-service"
SERVING_UID = 10001
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
DRAIN_SECONDS = 5  # long enough for endpoints to drop the pod before the server stops accepting


def service_url(cfg: StackConfig, model: ModelServiceConfig) -> str:
    return f"http://{model.name}.{cfg.namespace}.svc:{model.port}"


def _container(model: ModelServiceConfig, image: Any, uses_registry: bool, cfg: StackConfig) -> dict[str, Any]:
    env = [
        {"name": "MODEL_NAME", "value": model.model_name},
        {"name": "BENTOML_WORKERS", "value": str(model.workers)},
        {"name": "BENTOML_HOME", "value": "/tmp/bentoml"},
        {"name": "HOME", "value": "/tmp"},
    ]
    if uses_registry:
        env += [
            {"name": "MODEL_URI", "value": model.model_uri},
            {"name": "MLFLOW_TRACKING_URI", "value": tracking_url(cfg)},
        ]
    return {
        "name": "server",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "http", "containerPort": model.port, "protocol": "TCP"}],
        "resources": model.resources.as_kubernetes(),
        # Model loading can take a while on a cold node; liveness only starts once the server is up.
        "startupProbe": http_probe("/livez", "http", period=2, failures=90),
        "readinessProbe": http_probe("/readyz", "http", period=5),
        "livenessProbe": http_probe("/livez", "http", period=15),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(DRAIN_SECONDS)]}}},
        "securityContext": container_security(model.read_only_root_filesystem),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _deployment(cfg: StackConfig, model: ModelServiceConfig, track: Track, image: Any) -> Manifest:
    name = model.name + track.suffix
    uses_registry = model.model_uri is not None
    pod_labels = labels(
        COMPONENT, model.name,
        **track.pod_labels,
        **{"mlops-kit.io/model": model.model_name, "mlops-kit.io/model-version": track.model_version},
        **({CLIENT_LABEL.format(component="mlflow"): "true"} if uses_registry else {}),
    )  # fmt: skip
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(COMPONENT, model.name, **track.pod_labels)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 5,
        "template": pod_template(
            pod_labels,
            model.name,
            SERVING_UID,
            [_container(model, image, uses_registry, cfg)],
            [tmp_volume(size="256Mi")],
            annotations={
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(model.port),
                "prometheus.io/path": "/metrics",
            },
            terminationGracePeriodSeconds=30,
        ),
    }
    if not track.autoscaled:
        spec["replicas"] = track.replicas  # with an HPA the replica count is the HPA's to manage, not the program's
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, cfg.namespace, labels(COMPONENT, model.name, **track.pod_labels)),
        "spec": spec,
    }


def _autoscaler(cfg: StackConfig, model: ModelServiceConfig, track: Track) -> Manifest:
    name = model.name + track.suffix
    scaling = model.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(name, cfg.namespace, labels(COMPONENT, model.name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": scaling.target_cpu_percent},
                    },
                }
            ],
            # Scale down slowly (by default): a model server that just scaled up is usually needed again within minutes.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds}},
        },
    }


def model_service_manifests(
    cfg: StackConfig, model: ModelServiceConfig, images: dict[str, Any]
) -> tuple[list[Manifest], RolloutPlan]:
    """`images` maps the plan's image slots ("primary", "candidate") to image references (or Outputs)."""
    rollout = plan(model)
    ns = cfg.namespace
    own = labels(COMPONENT, model.name)
    objects: list[Manifest] = [service_account(model.name, ns, own)]
    for track in rollout.tracks:
        objects.append(_deployment(cfg, model, track, images[track.image_slot]))
        if track.autoscaled:
            objects.append(_autoscaler(cfg, model, track))
    for route in rollout.routes:
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(model.name + route.suffix, ns, own),
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector(COMPONENT, model.name, **route.select),
                    "ports": [{"name": "http", "port": model.port, "targetPort": "http", "protocol": "TCP"}],
                },
            }
        )
    objects.append(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(model.name, ns, own),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(COMPONENT, model.name)}},
        }
    )
    objects.append(
        network_policy(
            f"{model.name}-ingress",
            ns,
            own,
            selector(COMPONENT, model.name),
            [pods_with({CLIENT_LABEL.format(component=model.name): "true"}), pods_with(PROMETHEUS_PODS)],
            [model.port],
        )
    )
    return objects, rollout
