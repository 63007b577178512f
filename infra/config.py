"""Typed stack configuration: everything a `Pulumi.<env>.yaml` can set, validated before any resource is registered.

Values come from the stack's `config:` section (keys `mlops-kit:<key>`, camelCase, structured YAML allowed), layered on
top of per-environment defaults. Every error names the Pulumi config key, the bad value and what would be valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mlops_kit.errors import UserError

PROJECT = "mlops-kit"
ROOT = Path(__file__).resolve().parent.parent

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes resource.Quantity grammar (decimal SI, binary SI, exponent), e.g. 100m, 0.5, 256Mi, 1G, 1e3.
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$")
_DIGEST_REF = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
_IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9._\-/:]*[a-z0-9](@sha256:[0-9a-f]{64})?$")


class ConfigError(UserError):
    """Invalid stack configuration; the message lists every problem by Pulumi config key."""


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', start/end alphanumeric, ≤ 63 chars")
    return value


def _quantity(value: str) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity such as 100m, 0.5, 256Mi or 2Gi")
    return value


def _image(value: str) -> str:
    if not _IMAGE_REF.match(value):
        raise ValueError("must be an image reference such as registry/name:tag or registry/name@sha256:<64 hex>")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
# Registry versions are strings, but YAML and `pulumi config set --path` turn `7` into a number: accept both.
VersionText = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]
Quantity = Annotated[str, AfterValidator(_quantity)]
ImageRef = Annotated[str, AfterValidator(_image)]


class Environment(StrEnum):
    dev = "dev"
    staging = "staging"
    prod = "prod"


class Strategy(StrEnum):
    rolling = "rolling"
    blue_green = "blue-green"
    canary = "canary"


class TrackingBackend(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


class Color(StrEnum):
    blue = "blue"
    green = "green"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


def _quantity_value(q: str) -> float:
    """Numeric value of a quantity (for request ≤ limit checks)."""
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}  # fmt: skip
    match = re.match(r"^[+]?([0-9.]+)([a-zA-Z]*)$", q)
    if match and match.group(2) in units:
        return float(match.group(1)) * units[match.group(2)]
    return float(q)


class Resources(Model):
    cpu_request: Quantity = "100m"
    memory_request: Quantity = "256Mi"
    cpu_limit: Quantity = "1"
    memory_limit: Quantity = "512Mi"

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self, f"{kind}_request"), getattr(self, f"{kind}_limit")
            if _quantity_value(request) > _quantity_value(limit):
                raise ValueError(f"{kind}Request {request} is larger than {kind}Limit {limit}")
        return self

    def as_kubernetes(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


class Autoscaling(Model):
    enabled: bool = False
    min_replicas: int = Field(1, ge=1, le=100)
    max_replicas: int = Field(3, ge=1, le=100)
    target_cpu_percent: int = Field(70, ge=10, le=100)

    @model_validator(mode="after")
    def _min_below_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} is larger than maxReplicas {self.max_replicas}")
        return self


class ImageBuild(Model):
    """Build the serving image with pulumi-docker (dev) from the context `images/serving/stage.sh` prepares (code,
    wheelhouse and the exported model side by side: the repository root is not a valid context), push to `registry`."""

    context: str = Field(
        "${MLOPS_KIT_CACHE}/build/serving-context", description="Staged build context; env vars expand."
    )
    dockerfile: str | None = Field(None, description="Defaults to <context>/Dockerfile.")
    registry: str = "127.0.0.1:5000"
    repository: str = "mlops-kit/serving"

    def resolved_context(self) -> str:
        import os

        cache = os.environ.get("MLOPS_KIT_CACHE", os.path.expanduser("~/.cache/mlops-kit"))
        return os.path.expanduser(os.path.expandvars(self.context.replace("${MLOPS_KIT_CACHE}", cache)))

    def resolved_dockerfile(self) -> str:
        import os

        return self.dockerfile or os.path.join(self.resolved_context(), "Dockerfile")


class Image(Model):
    ref: ImageRef | None = Field(None, description="A prebuilt image; staging/prod require a digest (@sha256:).")
    build: ImageBuild | None = None

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Image:
        if (self.ref is None) == (self.build is None):
            raise ValueError("set exactly one of image.ref (a prebuilt image) or image.build (build from the bento)")
        return self


class Canary(Model):
    steps: list[Annotated[int, Field(ge=0, le=100)]] = Field(default_factory=lambda: [10, 50, 100], min_length=1)
    weight: int = Field(0, ge=0, le=100, description="Current share of traffic (percent) on the canary track.")
    image: Image | None = Field(None, description="The canary's image; the stable track keeps `image`.")
    model_version: VersionText | None = None
    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_p99_seconds: float = Field(0.5, gt=0)
    max_drift_psi: float = Field(0.25, gt=0)

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        if steps != sorted(set(steps)) or steps[-1] != 100:
            raise ValueError(f"must be strictly increasing and end at 100, e.g. [10, 50, 100] (got {steps})")
        return steps


class BlueGreen(Model):
    active_color: Color = Color.blue
    idle_image: Image | None = Field(
        None, description="What the idle colour runs (the candidate); defaults to `image`."
    )
    idle_model_version: VersionText | None = None


class ModelService(Model):
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
    strategy: Strategy = Strategy.rolling
    canary: Canary = Canary()
    blue_green: BlueGreen = BlueGreen()
    read_only_root_filesystem: bool = True
    max_unavailable_percent: int = Field(0, ge=0, le=50, description="PDB / rolling update budget.")

    @model_validator(mode="after")
    def _default_model_name(self) -> ModelService:
        if not self.model_name:
            object.__setattr__(self, "model_name", self.name)
        return self


class Tracking(Model):
    enabled: bool = True
    image: ImageRef = "ghcr.io/mlflow/mlflow:v3.17.2"
    backend: TrackingBackend = TrackingBackend.sqlite
    storage_size: Quantity = "5Gi"
    postgres_image: ImageRef = "postgres:16.4"
    postgres_storage_size: Quantity = "5Gi"
    resources: Resources = Resources(cpu_request="100m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")


class Monitoring(Model):
    enabled: bool = True
    prometheus_image: ImageRef = "prom/prometheus:v2.53.2"
    grafana_image: ImageRef = "grafana/grafana:11.2.0"
    retention: str = Field("7d", pattern=r"^[0-9]+(h|d|w|y)$")
    storage_size: Quantity = "5Gi"
    scrape_interval: str = Field("15s", pattern=r"^[0-9]+(s|m)$")
    grafana: bool = True


class Retraining(Model):
    """Scheduled retraining: one CronJob per served model runs `mlops-kit train` against the in-cluster MLflow; the
    gate decides whether the new version becomes champion. `mlops-kit retrain -s ENV` starts one now (the drift
    alert's runbook)."""

    enabled: bool = True
    schedule: str = Field("0 3 * * 1", pattern=r"^(\S+\s+){4}\S+$", description="cron: minute hour day month weekday")
    image: ImageRef = "mlops-kit/training:0.1.0"
    dataset: str = "breast_cancer"
    resources: Resources = Resources(cpu_request="500m", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi")


class Quota(Model):
    """Namespace ResourceQuota: a ceiling for the whole environment, so a runaway HPA cannot take the cluster."""

    requests_cpu: Quantity = "8"
    requests_memory: Quantity = "16Gi"
    limits_cpu: Quantity = "16"
    limits_memory: Quantity = "32Gi"
    pods: int = Field(50, ge=1)
    persistent_volume_claims: int = Field(10, ge=0)


class Cluster(Model):
    context: str | None = Field(None, description="kubeconfig context; default: the kit's local kwok cluster")
    kubeconfig: str | None = Field(None, description="kubeconfig path; default: $KUBECONFIG or ~/.kube/config")


class StackConfig(Model):
    environment: Environment
    namespace: DnsLabel = "mlops"
    storage_class: str | None = None
    protect_stateful: bool = False
    cluster: Cluster = Cluster()
    quota: Quota = Quota()
    tracking: Tracking = Tracking()
    monitoring: Monitoring = Monitoring()
    retraining: Retraining = Retraining()
    models: list[ModelService] = Field(default_factory=list)

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelService]) -> list[ModelService]:
        seen: set[str] = set()
        duplicates = sorted({m.name for m in models if m.name in seen or seen.add(m.name)})
        if duplicates:
            raise ValueError(f"model names must be unique; duplicated: {duplicates}")
        return models

    @model_validator(mode="after")
    def _promoted_environments_use_digests(self) -> StackConfig:
        # Promotion moves the exact image: a tag could point at something else by the time staging/prod pull it.
        if self.environment is Environment.dev:
            return self
        for index, model in enumerate(self.models):
            images = [
                ("image", model.image),
                ("canary.image", model.canary.image),
                ("blueGreen.idleImage", model.blue_green.idle_image),
            ]
            for where, image in images:
                if image is None:
                    continue
                if image.build is not None:
                    raise ValueError(
                        f"models[{index}].{where}.build: only dev builds images; {self.environment} runs promoted digests (set {where}.ref)"
                    )
                if image.ref and not _DIGEST_REF.match(image.ref):
                    raise ValueError(
                        f"models[{index}].{where}.ref {image.ref!r}: {self.environment} needs an image by digest (name@sha256:<64 hex>)"
                    )
        return self


# Per-environment defaults: what each stack gets unless its Pulumi.<env>.yaml says otherwise.
ENVIRONMENT_DEFAULTS: dict[Environment, dict[str, Any]] = {
    Environment.dev: {"protectStateful": False, "tracking": {"backend": "sqlite"}},
    Environment.staging: {"protectStateful": False, "tracking": {"backend": "postgres"}},
    Environment.prod: {"protectStateful": True, "tracking": {"backend": "postgres"}},
}
MODEL_DEFAULTS: dict[Environment, dict[str, Any]] = {
    Environment.dev: {"replicas": 1, "strategy": "rolling"},
    Environment.staging: {
        "replicas": 2,
        "strategy": "canary",
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4},
    },
    Environment.prod: {
        "replicas": 3,
        "strategy": "blue-green",
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10},
    },
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any) -> Any:
    """The engine hands structured config to the program as JSON strings; YAML files give objects. Accept both."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return value


def _location(loc: tuple[Any, ...]) -> str:
    head, *rest = loc or ("<root>",)
    path = f"{PROJECT}:{head}"
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"invalid stack configuration in {source}:"]
    for problem in exc.errors(include_url=False):
        given = problem.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            lines.append(f"  - {_location(tuple(problem['loc']))}: {message}{shown}")
        else:  # whole-stack rules name their own key path
            lines.append(f"  - {PROJECT}:{message}")
    return "\n".join(lines)


_SECRET_KEYS = ("postgresPassword", "grafanaAdminPassword")


def parse_stack_config(raw: Mapping[str, Any], source: str = "stack config") -> StackConfig:
    """Raw `mlops-kit:*` values (prefix stripped) → validated StackConfig with environment defaults applied."""
    values = {k: _decode(v) for k, v in raw.items() if k not in _SECRET_KEYS}
    env_raw = values.get("environment")
    try:
        environment = Environment(env_raw)
    except ValueError:
        valid = ", ".join(e.value for e in Environment)
        raise ConfigError(
            f"invalid stack configuration in {source}:\n  - {PROJECT}:environment: must be one of {valid} (got {env_raw!r})"
        ) from None
    merged = deep_merge(ENVIRONMENT_DEFAULTS[environment], values)
    models = merged.get("models")
    if isinstance(models, list):
        merged["models"] = [deep_merge(MODEL_DEFAULTS[environment], m) if isinstance(m, Mapping) else m for m in models]
    try:
        return StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `mlops-kit:*` config of a Pulumi.<env>.yaml, prefix stripped; secure values stay opaque."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"stack file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    foreign = sorted(k for k in config if not k.startswith(prefix) and ":" not in k)
    if foreign:
        raise ConfigError(f"{path}: config keys must be namespaced (e.g. {prefix}{foreign[0]}); found {foreign}")
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def load_stack_file(stack: str, root: Path = ROOT) -> StackConfig:
    path = root / f"Pulumi.{stack}.yaml"
    return parse_stack_config(read_stack_file(path), str(path.name))


def load_from_pulumi() -> StackConfig:
    """Inside `pulumi up/preview`: read every `mlops-kit:*` key the engine passed to the program."""
    import pulumi
    from pulumi.runtime.config import CONFIG

    prefix = f"{PROJECT}:"
    raw = {k[len(prefix) :]: v for k, v in CONFIG.get().items() if k.startswith(prefix)}
    return parse_stack_config(raw, f"Pulumi.{pulumi.get_stack()}.yaml")


SecretKey = Literal["postgresPassword", "grafanaAdminPassword"]
