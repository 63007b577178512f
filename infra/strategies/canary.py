"""Canary: `stable` and `canary` tracks behind one Service.

Without a service mesh the traffic share is the share of replicas, so `canary.weight` (percent) sets the canary's
replica count. Weight 0 keeps the canary Deployment at zero replicas (rollback = one field); after the last step the
promotion makes the canary image the new stable image and resets the weight.
"""

from __future__ import annotations

import math

from infra.config import Image, ModelServiceConfig, Strategy
from infra.strategies.base import (
    TRACK_LABEL,
    ConfigPaths,
    Release,
    RolloutPlan,
    ServiceRoute,
    Step,
    Track,
    version_of,
)


def replicas(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) replica counts for a traffic weight; any non-zero weight gets at least one canary pod."""
    if weight <= 0:
        return total, 0
    if weight >= 100:
        return 0, total
    if total == 1:
        return 1, 1  # one replica cannot be split: run one of each (about half the traffic) until the next step
    canary = min(total - 1, max(1, math.ceil(total * weight / 100)))
    return total - canary, canary


def plan(model: ModelServiceConfig) -> RolloutPlan:
    weight = model.canary.weight
    stable_replicas, canary_count = replicas(model.replicas, weight)
    tracks = (
        Track(
            "-stable",
            {TRACK_LABEL: "stable"},
            stable_replicas,
            "primary",
            version_of(model),
            model.autoscaling.enabled and weight < 100,
        ),
        Track(
            "-canary", {TRACK_LABEL: "canary"}, canary_count, "candidate", version_of(model, model.canary.model_version)
        ),
    )
    effective = round(100 * canary_count / max(1, stable_replicas + canary_count))
    return RolloutPlan(
        Strategy.canary,
        tracks,
        (ServiceRoute(""),),
        {"weight": weight, "effectiveWeight": effective, "steps": list(model.canary.steps)},
    )


def candidate_image(model: ModelServiceConfig) -> Image | None:
    return model.canary.image


def next_weight(steps: list[int], current: int) -> int | None:
    """The next step after `current`, or None when the canary already takes all traffic."""
    return next((s for s in steps if s > current), None)


def promotion_steps(model: ModelServiceConfig, path: ConfigPaths, release: Release) -> list[Step]:
    weight = path("canary", "weight")
    steps = [
        Step(
            f"canary at {percent}%",
            {
                path("canary", "image", "ref"): release.image,
                path("canary", "model_version"): release.model_version,
                weight: percent,
            },
            gate_track="canary",
            rollback_edits={weight: 0},
        )
        for percent in model.canary.steps
    ]
    steps.append(
        Step(
            "canary becomes stable",
            {
                path("image", "ref"): release.image,
                path("model_version"): release.model_version,
                weight: 0,
                path("canary", "image"): None,
                path("canary", "model_version"): None,
            },
        )
    )
    return steps


def rollback(model: ModelServiceConfig, path: ConfigPaths) -> Step:
    return Step("drop the canary to 0%", {path("canary", "weight"): 0})
