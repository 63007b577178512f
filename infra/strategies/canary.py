"""Canary: `stable` and `canary` tracks behind one Service.

Without a service mesh the traffic share is the share of ready replicas, so `canary.weight` (percent) sets the
canary's replica count, and the weight reported is the one those counts give (`effective_weight`), not the one asked
for. While a canary runs (0 < weight < 100) no HPA resizes either track, since one that sized only the stable track
would change the share under the analysis (2 stable pods scaled to 4 turn 33 % into 20 %); the split is taken from a
fixed total, the larger of `replicas` and `autoscaling.minReplicas`. Weight 0 keeps the canary Deployment at zero
replicas (rollback = one field) and hands the stable track back to its HPA.

After the last step the stable track takes the release while the canary still serves it, and only once that update
is done (pulumi waits for the Deployment to be Available) is the canary scaled to zero: never a moment without
ready pods.
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


def split_total(model: ModelServiceConfig) -> int:
    """The replica total a canary weight is a share of."""
    scaling = model.autoscaling
    return max(model.replicas, scaling.min_replicas) if scaling.enabled else model.replicas


def effective_weight(total: int, weight: int) -> int:
    """The traffic share (percent) the canary really gets at `weight`, from the replica counts."""
    stable, canary = replicas(total, weight)
    return round(100 * canary / max(1, stable + canary))


def plan(model: ModelServiceConfig) -> RolloutPlan:
    weight = model.canary.weight
    total = split_total(model) if weight > 0 else model.replicas
    stable_replicas, canary_count = replicas(total, weight)
    tracks = (
        Track(
            "-stable",
            {TRACK_LABEL: "stable"},
            stable_replicas,
            "primary",
            version_of(model),
            model.autoscaling.enabled and weight == 0,
        ),
        Track(
            "-canary", {TRACK_LABEL: "canary"}, canary_count, "candidate", version_of(model, model.canary.model_version)
        ),
    )
    return RolloutPlan(
        Strategy.canary,
        tracks,
        (ServiceRoute(""),),
        {"weight": weight, "effectiveWeight": effective_weight(total, weight), "steps": list(model.canary.steps)},
    )


def candidate_image(model: ModelServiceConfig) -> Image | None:
    return model.canary.image


def next_weight(steps: list[int], current: int) -> int | None:
    """The next step after `current`, or None when the canary already takes all traffic."""
    return next((s for s in steps if s > current), None)


def _step_name(total: int, percent: int) -> str:
    stable, canary = replicas(total, percent)
    effective = effective_weight(total, percent)
    if effective == percent:
        return f"canary at {percent}%"
    # The schedule asks for a share these replicas cannot give: say what runs instead, and which key sets it.
    return f"canary at {percent}% (effective {effective}%: {canary} canary, {stable} stable replicas; canary.steps)"


def promotion_steps(model: ModelServiceConfig, path: ConfigPaths, release: Release) -> list[Step]:
    weight = path("canary", "weight")
    total = split_total(model)
    steps = [
        Step(
            _step_name(total, percent),
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
    # Both tracks run the release now; the canary keeps serving until the new stable pods are ready.
    # canary.steps always ends at 100 (config check): half and half brings stable pods up while the canary keeps some.
    handover = 50
    steps += [
        Step(
            "stable track takes the release (the canary keeps serving until it is ready)",
            {path("image", "ref"): release.image, path("model_version"): release.model_version, weight: handover},
        ),
        Step(
            "canary removed",
            {weight: 0, path("canary", "image"): None, path("canary", "model_version"): None},
        ),
    ]
    return steps


def rollback(model: ModelServiceConfig, path: ConfigPaths) -> Step:
    return Step("drop the canary to 0%", {path("canary", "weight"): 0})
