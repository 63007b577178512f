"""Rollout strategies as modules: one per strategy (`rolling`, `blue_green`, `canary`), each a set of pure functions
(see `base`). `STRATEGIES` maps the config's `strategy` to its module; adding a strategy means one module and one
entry here."""

from __future__ import annotations

from types import ModuleType

from infra.config import Image, ModelServiceConfig, StackConfig, Strategy
from infra.strategies import blue_green, canary, rolling
from infra.strategies.base import ConfigPaths, PromotionError, Release, RolloutPlan, Step

STRATEGIES: dict[Strategy, ModuleType] = {
    Strategy.rolling: rolling,
    Strategy.blue_green: blue_green,
    Strategy.canary: canary,
}


def plan(model: ModelServiceConfig) -> RolloutPlan:
    return STRATEGIES[model.strategy].plan(model)


def images(model: ModelServiceConfig) -> dict[str, Image]:
    """The image config of each image slot the plan's tracks use: the candidate defaults to the primary image."""
    candidate = STRATEGIES[model.strategy].candidate_image(model)
    return {"primary": model.image, "candidate": candidate or model.image}


def _find(target: StackConfig, name: str) -> tuple[ConfigPaths, ModelServiceConfig]:
    for index, model in enumerate(target.models):
        if model.name == name:
            return ConfigPaths(index), model
    raise PromotionError(f"target stack has no model {name!r}; it has {[m.name for m in target.models]}")


def plan_promotion(target: StackConfig, release: Release) -> list[Step]:
    path, model = _find(target, release.model)
    return STRATEGIES[model.strategy].promotion_steps(model, path, release)


def plan_rollback(target: StackConfig, model_name: str) -> Step:
    path, model = _find(target, model_name)
    return STRATEGIES[model.strategy].rollback(model, path)
