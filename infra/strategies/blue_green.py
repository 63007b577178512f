"""Blue-green: `blue` and `green` tracks at full size; `<svc>` selects the active colour, `<svc>-preview` the idle one.

A promotion deploys to the idle colour, checks it through the preview Service, then flips `activeColor`; the old
colour keeps the previous release, so rollback flips back. Both colours stay warm, so a flip is instant.

A colour's pods are labelled with their colour only (as track too: the gate and the dashboards see `track="green"`),
never with "active"/"preview": a Deployment's selector is immutable and a template label change restarts its pods,
so a flip or a rollback changes the two Services' selectors and nothing else.
"""

from __future__ import annotations

from infra.config import Color, Image, ModelServiceConfig, Strategy
from infra.strategies.base import (
    COLOR_LABEL,
    TRACK_LABEL,
    ConfigPaths,
    PromotionError,
    Release,
    RolloutPlan,
    ServiceRoute,
    Step,
    Track,
    version_of,
)


def plan(model: ModelServiceConfig) -> RolloutPlan:
    active = model.blue_green.active_color
    idle = active.other
    idle_version = version_of(model, model.blue_green.idle_model_version)
    tracks = tuple(
        Track(
            f"-{color.value}",
            {TRACK_LABEL: color.value, COLOR_LABEL: color.value},
            model.replicas,
            "primary" if color is active else "candidate",
            version_of(model) if color is active else idle_version,
            # Both colours (HPA included) stay as they are at a flip. The idle colour scales on its own traffic (the
            # preview's), so a standby that must take full load at once needs autoscaling.minReplicas of that size.
            autoscaled=model.autoscaling.enabled,
        )
        for color in (Color.blue, Color.green)
    )
    routes = (ServiceRoute("", {COLOR_LABEL: active.value}), ServiceRoute("-preview", {COLOR_LABEL: idle.value}))
    return RolloutPlan(Strategy.blue_green, tracks, routes, {"activeColor": active.value, "idleColor": idle.value})


def candidate_image(model: ModelServiceConfig) -> Image | None:
    return model.blue_green.idle_image


def promotion_steps(model: ModelServiceConfig, path: ConfigPaths, release: Release) -> list[Step]:
    active = model.blue_green.active_color
    idle = active.other
    idle_image, idle_version = path("blue_green", "idle_image"), path("blue_green", "idle_model_version")
    return [
        Step(
            f"deploy to idle colour {idle.value} (reachable through the -preview Service)",
            {f"{idle_image}.ref": release.image, idle_version: release.model_version},
            gate_track=idle.value,
            rollback_edits={idle_image: None, idle_version: None},
            load_route="-preview",
        ),
        Step(
            f"flip traffic {active.value} → {idle.value}; {active.value} keeps the previous release for rollback",
            {
                path("blue_green", "active_color"): idle.value,
                path("image", "ref"): release.image,
                path("model_version"): release.model_version,
                f"{idle_image}.ref": model.image.ref,
                idle_version: model.model_version,
            },
        ),
    ]


def rollback(model: ModelServiceConfig, path: ConfigPaths) -> Step:
    previous = model.blue_green.idle_image
    if previous is None or previous.ref is None:
        raise PromotionError(f"{model.name}: the idle colour holds no previous release to roll back to")
    active = model.blue_green.active_color
    return Step(
        f"flip traffic back {active.value} → {active.other.value}",
        {
            path("blue_green", "active_color"): active.other.value,
            path("image", "ref"): previous.ref,
            path("model_version"): model.blue_green.idle_model_version or "",
            path("blue_green", "idle_image", "ref"): model.image.ref,
            path("blue_green", "idle_model_version"): model.model_version,
        },
    )
