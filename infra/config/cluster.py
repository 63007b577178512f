"""Where a stack runs: the cluster (kubeconfig context) and the namespace's resource ceiling."""

from __future__ import annotations

from pydantic import Field

from infra.config.types import Model, Quantity


class QuotaConfig(Model):
    """Namespace ResourceQuota: a ceiling for the whole environment, so a runaway HPA cannot take the cluster."""

    requests_cpu: Quantity = "8"
    requests_memory: Quantity = "16Gi"
    limits_cpu: Quantity = "16"
    limits_memory: Quantity = "32Gi"
    pods: int = Field(50, ge=1)
    persistent_volume_claims: int = Field(10, ge=0)


class ClusterConfig(Model):
    context: str | None = Field(None, description="kubeconfig context; default: the kit's local kwok cluster")
    kubeconfig: str | None = Field(None, description="kubeconfig path; default: $KUBECONFIG or ~/.kube/config")
