"""Where a stack runs: the cluster (kubeconfig context), which nodes of the kit's local cluster, and the namespace's
resource ceiling."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from infra.config.types import Model, Quantity

LOCAL_CONTEXT_PREFIX = "kwok-"  # `mlops-kit cluster up --name N` makes context kwok-N


class QuotaConfig(Model):
    """Namespace ResourceQuota: a ceiling for the whole environment, so a runaway HPA cannot take the cluster."""

    requests_cpu: Quantity = "8"
    requests_memory: Quantity = "16Gi"
    limits_cpu: Quantity = "16"
    limits_memory: Quantity = "32Gi"
    pods: int = Field(50, ge=1)
    persistent_volume_claims: int = Field(10, ge=0)


class LocalNodes(StrEnum):
    """Which nodes of the kit's local cluster run the stack's pods."""

    real = "real"  # the real kubelet node: containers run, serve, get scraped
    fake = "fake"  # kwok's simulated nodes: many and large, nothing runs (scheduling, HPA limits, rollout plans)


class ClusterConfig(Model):
    context: str | None = Field(None, description="kubeconfig context; default: the kit's local kwok cluster")
    kubeconfig: str | None = Field(None, description="kubeconfig path; default: $KUBECONFIG or ~/.kube/config")
    local_nodes: LocalNodes = Field(
        LocalNodes.real, description="On the kit's local cluster: run pods on its real node or its fake nodes."
    )

    @property
    def is_local(self) -> bool:
        """Whether the context names one of the kit's local clusters (`mlops-kit cluster up`)."""
        return (self.context or "").startswith(LOCAL_CONTEXT_PREFIX)
