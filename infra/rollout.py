"""Rollout strategies as pure functions: a model's config → the tracks (Deployments) and Services it needs.

No Pulumi here: a plan is data, so each strategy is tested on its own and the model_service component only turns
plans into resources. Adding a strategy means adding one function to STRATEGIES.

- rolling:    one track; the Service selects it; updates replace pods one at a time with maxUnavailable 0.
- blue-green: `blue` and `green` tracks at full size; `<svc>` selects the active colour, `<svc>-preview` the idle one.
              A promotion deploys to the idle colour, checks it through the preview Service, then flips `activeColor`;
              rollback flips back. Both colours stay warm, so a flip is instant.
- canary:     `stable` and `canary` tracks behind one Service; without a service mesh the traffic share is the share of
              replicas, so `canary.weight` (percent) sets the canary's replica count. Weight 0 keeps the canary
              Deployment at zero replicas (rollback = one field); at 100 the promotion makes the canary image the new
              stable image and resets the weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.config import Color, ModelService, Strategy

TRACK_LABEL = "mlops-kit.io/track"
COLOR_LABEL = "mlops-kit.io/color"


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


def _version(model: ModelService, override: str | None) -> str:
    return override or model.model_version or "unknown"


def rolling(model: ModelService) -> RolloutPlan:
    track = Track(
        "", {TRACK_LABEL: "stable"}, model.replicas, "primary", _version(model, None), model.autoscaling.enabled
    )
    return RolloutPlan(Strategy.rolling, (track,), (ServiceRoute(""),), {"replicas": model.replicas})


def blue_green(model: ModelService) -> RolloutPlan:
    active = model.blue_green.active_color
    idle = Color.green if active is Color.blue else Color.blue
    idle_version = _version(model, model.blue_green.idle_model_version)
    tracks = tuple(
        Track(
            f"-{color.value}",
            {TRACK_LABEL: "active" if color is active else "preview", COLOR_LABEL: color.value},
            model.replicas,
            "primary" if color is active else "candidate",
            _version(model, None) if color is active else idle_version,
            autoscaled=model.autoscaling.enabled and color is active,
        )
        for color in (Color.blue, Color.green)
    )
    routes = (ServiceRoute("", {COLOR_LABEL: active.value}), ServiceRoute("-preview", {COLOR_LABEL: idle.value}))
    return RolloutPlan(Strategy.blue_green, tracks, routes, {"activeColor": active.value, "idleColor": idle.value})


def canary_replicas(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) replica counts for a traffic weight; any non-zero weight gets at least one canary pod."""
    if weight <= 0:
        return total, 0
    if weight >= 100:
        return 0, total
    if total == 1:
        return 1, 1  # one replica cannot be split: run one of each (about half the traffic) until the next step
    canary = min(total - 1, max(1, math.ceil(total * weight / 100)))
    return total - canary, canary


def canary(model: ModelService) -> RolloutPlan:
    weight = model.canary.weight
    stable_replicas, canary_count = canary_replicas(model.replicas, weight)
    tracks = (
        Track(
            "-stable",
            {TRACK_LABEL: "stable"},
            stable_replicas,
            "primary",
            _version(model, None),
            model.autoscaling.enabled and weight < 100,
        ),
        Track(
            "-canary", {TRACK_LABEL: "canary"}, canary_count, "candidate", _version(model, model.canary.model_version)
        ),
    )
    effective = round(100 * canary_count / max(1, stable_replicas + canary_count))
    return RolloutPlan(
        Strategy.canary,
        tracks,
        (ServiceRoute(""),),
        {"weight": weight, "effectiveWeight": effective, "steps": list(model.canary.steps)},
    )


STRATEGIES: dict[Strategy, Callable[[ModelService], RolloutPlan]] = {
    Strategy.rolling: rolling,
    Strategy.blue_green: blue_green,
    Strategy.canary: canary,
}


def plan(model: ModelService) -> RolloutPlan:
    return STRATEGIES[model.strategy](model)


def next_canary_weight(steps: list[int], current: int) -> int | None:
    """The next step after `current`, or None when the canary already takes all traffic."""
    return next((s for s in steps if s > current), None)
