"""Rolling: one track; the Service selects it; an update replaces pods one at a time with maxUnavailable 0.

It keeps no second release, so there is no candidate image and no rollback other than promoting the previous digest.
"""

from __future__ import annotations

from infra.config import Image, ModelServiceConfig, Strategy
from infra.strategies.base import (
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
    track = Track("", {TRACK_LABEL: "stable"}, model.replicas, "primary", version_of(model), model.autoscaling.enabled)
    return RolloutPlan(Strategy.rolling, (track,), (ServiceRoute(""),), {"replicas": model.replicas})


def candidate_image(model: ModelServiceConfig) -> Image | None:
    return None


def promotion_steps(model: ModelServiceConfig, path: ConfigPaths, release: Release) -> list[Step]:
    return [
        Step(
            "rolling update to the promoted image",
            {path("image", "ref"): release.image, path("model_version"): release.model_version},
        )
    ]


def rollback(model: ModelServiceConfig, path: ConfigPaths) -> Step:
    raise PromotionError(
        f"{model.name} uses the rolling strategy, which keeps no second release: promote the previous digest instead"
    )
