"""What every rollout strategy produces, as data: tracks and routes for the manifests, steps for a promotion.

No Pulumi here. A strategy module (rolling, blue_green, canary) exposes four pure functions of a model's config:
`plan` (the Deployments and Services it needs now), `candidate_image` (the config of the image its second track
runs, if any), `promotion_steps` (the config edits that move a release in, with the gates between them) and
`rollback` (the edits that undo the last promotion). Config paths in steps are derived from the config models'
aliases (`config_path`), so a renamed field breaks a unit test instead of a promotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from infra.config import ModelServiceConfig, Strategy
from mlops_kit.errors import UserError

TRACK_LABEL = "mlops-kit.io/track"
COLOR_LABEL = "mlops-kit.io/color"


class PromotionError(UserError):
    """A promotion or rollback that cannot be planned (no such model, nothing to roll back to, …)."""


@dataclass(frozen=True)
class Track:
    """One Deployment of the model server."""

    suffix: str  # appended to the model service name: "", "-blue", "-stable", ...
    pod_labels: dict[str, str]  # extra labels that distinguish this track (also in its selector)
    replicas: int
    image_slot: str  # which image this track runs: "primary", "candidate"
    model_version: str
    autoscaled: bool = False


@dataclass(frozen=True)
class ServiceRoute:
    suffix: str  # "" for the main Service, "-preview" for blue-green's idle colour
    select: dict[str, str] = field(default_factory=dict)  # extra selector labels beyond the model's own


@dataclass(frozen=True)
class RolloutPlan:
    strategy: Strategy
    tracks: tuple[Track, ...]
    routes: tuple[ServiceRoute, ...]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Release:
    """What a promotion moves: one model service's exact image (by digest) and registry version."""

    model: str
    image: str  # name@sha256:…
    model_version: str


@dataclass(frozen=True)
class Step:
    description: str
    edits: dict[str, Any]  # config path (under mlops-kit:) → value; None removes the key
    gate_track: str | None = None  # track to check after `up`; None means no gate after this step
    rollback_edits: dict[str, Any] = field(default_factory=dict)  # applied if the gate fails
    # A Service (suffix of the model's name) that takes no user traffic and gets synthetic traffic while judged.
    load_route: str | None = None


def version_of(model: ModelServiceConfig, override: str | None = None) -> str:
    return override or model.model_version or "unknown"


class ConfigPaths:
    """`pulumi config set --path` keys of one model service (`models[<index>]`), from the config models' aliases."""

    def __init__(self, index: int) -> None:
        self.prefix = f"models[{index}]"

    def __call__(self, *fields: str) -> str:
        node: type[BaseModel] | None = ModelServiceConfig
        parts = [self.prefix]
        for name in fields:
            if node is None or name not in node.model_fields:
                raise KeyError(f"{'.'.join(fields)}: {name!r} is not a field of {node.__name__ if node else 'a leaf'}")
            info = node.model_fields[name]
            parts.append(info.alias or name)
            node = _model_type(info.annotation)
        return ".".join(parts)


def _model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `X | None`; None for leaves."""
    candidates = getattr(annotation, "__args__", None) or (annotation,)
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
