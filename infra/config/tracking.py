"""Config of the MLflow tracking server and registry (and the PostgreSQL behind it where the stack uses one)."""

from __future__ import annotations

from infra.config.types import KIT_REGISTRY, ImageRef, Model, Quantity, Resources, TrackingBackend


class TrackingConfig(Model):
    enabled: bool = True
    image: ImageRef = f"{KIT_REGISTRY}/mlflow:3.17.2"
    backend: TrackingBackend = TrackingBackend.sqlite
    storage_size: Quantity = "5Gi"
    postgres_image: ImageRef = f"{KIT_REGISTRY}/postgres:15.20"
    postgres_storage_size: Quantity = "5Gi"
    resources: Resources = Resources(cpu_request="100m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
