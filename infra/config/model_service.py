"""Config of one served model: its image, size, autoscaling and rollout strategy with the strategy's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from infra.config.images import Image
from infra.config.types import Color, DnsLabel, Model, Resources, Strategy, VersionText


class Autoscaling(Model):
    enabled: bool = False
    min_replicas: int = Field(1, ge=1, le=100)
    max_replicas: int = Field(3, ge=1, le=100)
    target_cpu_percent: int = Field(70, ge=10, le=100)
    scale_down_stabilization_seconds: int = Field(
        300,
        ge=0,
        le=3600,
        description="How long the load must stay low before the HPA removes replicas (Kubernetes' default: 300).",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is larger than maxReplicas {self.max_replicas}")
        return self


class Canary(Model):
    steps: list[Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=lambda: [10, 50, 100], min_length=1)
    weight: int = Field(0, ge=0, le=100, description="Current share of traffic (percent) on the canary track.")
    image: Image | None = Field(None, description="The canary's image; the stable track keeps `image`.")
    model_version: VersionText | None = None

    @model_validator(mode="before")
    @classmethod
    def _thresholds_moved(cls, data: object) -> object:
        # The thresholds judge blue-green steps too, so they moved to `analysis`: say where, not just "unknown key".
        moved = sorted(set(data) & {"maxErrorRate", "maxP99Seconds", "maxDriftPsi"}) if isinstance(data, dict) else []
        if moved:
            raise ValueError(f"{', '.join(moved)} moved to models[].analysis (they judge every strategy's steps)")
        return data

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        if steps != sorted(set(steps)) or steps[-1] != 100:
            raise ValueError(f"must be strictly increasing and end at 100, e.g. [10, 50, 100] (got {steps})")
        return steps


class Analysis(Model):
    """How a rollout step is judged (the way Argo Rollouts and Flagger do it): `measurements` measurements, one every
    `intervalSeconds`, each over the last interval's requests only; more than `failureLimit` failed measurements
    fail the step. A measurement with fewer than `minRequests` requests fails: an idle track proves nothing."""

    interval_seconds: int = Field(60, ge=10, le=3600)
    measurements: int = Field(3, ge=1, le=100)
    failure_limit: int = Field(0, ge=0)
    min_requests: int = Field(20, ge=1)
    min_drift_rows: int = Field(
        1000, ge=100, description="Input rows (per feature, last hour) below which the drift PSI is not judged."
    )
    max_error_rate: float = Field(0.01, ge=0, le=1, description="5xx share of /predict requests a step may show.")
    max_p99_seconds: float = Field(0.5, gt=0, description="p99 latency of /predict a step may show.")
    max_drift_psi: float = Field(0.25, gt=0, description="Largest per-feature PSI a step may show.")
    preview_load_rps: float = Field(
        5.0,
        ge=0,
        le=100,
        description="Blue-green: requests/s of held-out rows sent to the -preview Service while it is judged "
        "(it takes no user traffic); 0 sends none.",
    )

    @model_validator(mode="after")
    def _limit_below_count(self) -> Analysis:
        if self.failure_limit >= self.measurements:
            raise ValueError(
                f"failureLimit {self.failure_limit} must be below measurements {self.measurements} "
                "(otherwise no step could ever fail)"
            )
        return self


class BlueGreen(Model):
    active_color: Color = Color.blue
    idle_image: Image | None = Field(
        None, description="What the idle colour runs (the candidate); defaults to `image`."
    )
    idle_model_version: VersionText | None = None


class ModelServiceConfig(Model):
    name: DnsLabel
    model_name: str = Field("", description="Registered model name; defaults to `name`.")
    model_version: VersionText = Field(
        "", description="Registry version the image carries (recorded as a label/output)."
    )
    image: Image
    model_uri: str | None = Field(
        None,
        description="Load the model from the registry at start-up (e.g. models:/name@champion) instead of the one baked into the image.",
    )
    port: int = Field(3000, ge=1024, le=65535)
    replicas: int = Field(1, ge=1, le=100)
    workers: int = Field(1, ge=1, le=16)
    resources: Resources = Resources()
    autoscaling: Autoscaling = Autoscaling()
    analysis: Analysis = Analysis()
    strategy: Strategy = Strategy.rolling
    canary: Canary = Canary()
    blue_green: BlueGreen = BlueGreen()
    read_only_root_filesystem: bool = True

    @model_validator(mode="after")
    def _default_model_name(self) -> ModelServiceConfig:
        if not self.model_name:
            object.__setattr__(self, "model_name", self.name)
        return self

    def images(self) -> Iterator[tuple[str, Image]]:
        """Every image this service names, with its key path (`image`, `canary.image` …), whatever the strategy."""
        yield from _images(self, "")


def _images(node: Model, prefix: str) -> Iterator[tuple[str, Image]]:
    for name, field in type(node).model_fields.items():
        value = getattr(node, name)
        where = f"{prefix}{field.alias or name}"
        if isinstance(value, Image):
            yield where, value
        elif isinstance(value, Model):
            yield from _images(value, where + ".")
