"""The one place manifests become Pulumi resources.

Each platform part is a ComponentResource that asks a pure builder for manifests and hands them to `register`,
which picks the typed pulumi-kubernetes class for the manifest's kind, parents it to the component, and applies the
environment's protection policy to stateful kinds.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.manifests.common import Manifest

# (apiVersion, kind) → typed resource class; a manifest of any other kind is a programming error, caught by unit tests.
RESOURCE_CLASSES: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "ResourceQuota"): k8s.core.v1.ResourceQuota,
    ("v1", "LimitRange"): k8s.core.v1.LimitRange,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
}
# Losing these loses data (runs, registry, metrics history): protected and retained where the stack says so.
STATEFUL_KINDS = {"PersistentVolumeClaim", "StatefulSet"}
SECRET_FIELDS = {"Secret": ["data", "stringData"]}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resource_name(manifest: Manifest) -> str:
    """Stable, unique within a stack: the kind and the object's name (namespaced objects live in one namespace)."""
    return f"{_snake(manifest['kind']).replace('_', '-')}-{manifest['metadata']['name']}"


class ManifestComponent(pulumi.ComponentResource):
    """Base for the platform's components: owns the resources made from its manifests."""

    resources: dict[str, pulumi.CustomResource]

    def __init__(self, type_token: str, name: str, protect_stateful: bool, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(type_token, name, None, opts)
        self.resources = {}
        self._protect_stateful = protect_stateful

    def register(self, manifests: list[Manifest], depends_on: list[pulumi.Resource] | None = None) -> None:
        for manifest in manifests:
            key = (manifest["apiVersion"], manifest["kind"])
            cls = RESOURCE_CLASSES.get(key)
            if cls is None:
                raise TypeError(f"no resource class registered for {key}")
            args: dict[str, Any] = {_snake(k): v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
            stateful = manifest["kind"] in STATEFUL_KINDS and self._protect_stateful
            opts = pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on or [],
                protect=stateful,
                retain_on_delete=stateful,
                additional_secret_outputs=SECRET_FIELDS.get(manifest["kind"], []),
            )
            name = resource_name(manifest)
            self.resources[name] = cls(name, **args, opts=opts)
