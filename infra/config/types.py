"""The vocabulary every part's config shares: the strict base model, validated scalars, closed sets, resources.

Keys are camelCase in `Pulumi.<env>.yaml` (pydantic aliases); unknown keys are errors, so a misspelt key is reported
instead of silently ignored.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from mlops_kit.errors import UserError

PROJECT = "mlops-kit"
# Where the kit's own images are published (images/publish.sh). Every platform image defaults to one of them, built
# offline from images/<name>; on another cluster push them to its registry and set the `…image` keys per stack.
KIT_REGISTRY = "127.0.0.1:5000/mlops-kit"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Kubernetes resource.Quantity grammar (decimal SI, binary SI, exponent), e.g. 100m, 0.5, 256Mi, 1G, 1e3.
_QUANTITY = re.compile(r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$")
DIGEST_REF = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
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
    if _quantity_value(value) <= 0:  # a zero request, limit or volume is never what was meant
        raise ValueError("must be more than 0, e.g. 100m, 256Mi or 1Gi")
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

    @property
    def other(self) -> Color:
        return Color.green if self is Color.blue else Color.blue


class Model(BaseModel):
    # allow_inf_nan: an infinite threshold is no threshold.
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_silent_coercion(cls, value: object, info: ValidationInfo) -> object:
        """pydantic's lax mode reads `true` as 1 and 2.0 as 2: a bool or a float where a count belongs is a mistake
        to report. (Numeric strings stay accepted: `pulumi config set` stores every plain value as text.)"""
        expected = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, bool) and expected in (int, float):
            raise ValueError(f"must be a number, not {str(value).lower()}")
        if isinstance(value, float) and expected is int:
            raise ValueError("must be a whole number")
        return value


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
