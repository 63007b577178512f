"""Promotion and rollback as data: which stack-config edits move a model from one environment to the next.

Promotion never rebuilds: the target runs the exact image digest and registry version the source stack exported.
Each strategy turns one promotion into ordered steps; every step is a set of `pulumi config set --path` edits,
followed by `pulumi up`, followed (where the step says so) by a gate. `plan_*` functions are pure; `infra/automation/
run.py` applies them with the Automation API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.config import Color, ModelService, StackConfig, Strategy
from mlops_kit.errors import UserError


class PromotionError(UserError):
    pass


@dataclass(frozen=True)
class Step:
    description: str
    edits: dict[str, Any]  # config path (under mlops-kit:) → value; None removes the key
    gate_track: str | None = None  # track to check after `up`; None means no gate after this step
    rollback_edits: dict[str, Any] = field(default_factory=dict)  # applied if the gate fails


@dataclass(frozen=True)
class Release:
    model: str
    image: str  # name@sha256:…
    model_version: str


def release_from_outputs(outputs: dict[str, Any], model: str, resolve_digest) -> Release:
    """The image and version a source stack runs, by digest (tags are resolved through the registry)."""
    models = outputs.get("models") or {}
    if model not in models:
        raise PromotionError(f"source stack exports no model {model!r}; it has {sorted(models)}")
    entry = models[model]
    image = entry["image"]
    if "@sha256:" not in image:
        image = resolve_digest(image)
    return Release(model, image, str(entry.get("modelVersion") or ""))


def _index(cfg: StackConfig, model: str) -> tuple[int, ModelService]:
    for index, candidate in enumerate(cfg.models):
        if candidate.name == model:
            return index, candidate
    raise PromotionError(f"target stack has no model {model!r}; it has {[m.name for m in cfg.models]}")


def plan_promotion(target: StackConfig, release: Release) -> list[Step]:
    index, model = _index(target, release.model)
    at = f"models[{index}]"
    if model.strategy is Strategy.rolling:
        return [
            Step(
                "rolling update to the promoted image",
                {f"{at}.image.ref": release.image, f"{at}.modelVersion": release.model_version},
            )
        ]
    if model.strategy is Strategy.canary:
        steps = []
        for weight in model.canary.steps:
            steps.append(
                Step(
                    f"canary at {weight}%",
                    {
                        f"{at}.canary.image.ref": release.image,
                        f"{at}.canary.modelVersion": release.model_version,
                        f"{at}.canary.weight": weight,
                    },
                    gate_track="canary",
                    rollback_edits={f"{at}.canary.weight": 0},
                )
            )
        steps.append(
            Step(
                "canary becomes stable",
                {
                    f"{at}.image.ref": release.image,
                    f"{at}.modelVersion": release.model_version,
                    f"{at}.canary.weight": 0,
                    f"{at}.canary.image": None,
                    f"{at}.canary.modelVersion": None,
                },
            )
        )
        return steps
    active = model.blue_green.active_color
    idle = Color.green if active is Color.blue else Color.blue
    current = model.image.ref
    return [
        Step(
            f"deploy to idle colour {idle.value} (reachable through the -preview Service)",
            {f"{at}.blueGreen.idleImage.ref": release.image, f"{at}.blueGreen.idleModelVersion": release.model_version},
            gate_track="preview",
            rollback_edits={f"{at}.blueGreen.idleImage": None, f"{at}.blueGreen.idleModelVersion": None},
        ),
        Step(
            f"flip traffic {active.value} → {idle.value}; {active.value} keeps the previous release for rollback",
            {
                f"{at}.blueGreen.activeColor": idle.value,
                f"{at}.image.ref": release.image,
                f"{at}.modelVersion": release.model_version,
                f"{at}.blueGreen.idleImage.ref": current,
                f"{at}.blueGreen.idleModelVersion": model.model_version,
            },
        ),
    ]


def plan_rollback(target: StackConfig, model_name: str) -> Step:
    index, model = _index(target, model_name)
    at = f"models[{index}]"
    if model.strategy is Strategy.canary:
        return Step("drop the canary to 0%", {f"{at}.canary.weight": 0})
    if model.strategy is Strategy.blue_green:
        idle_image = model.blue_green.idle_image
        if idle_image is None or idle_image.ref is None:
            raise PromotionError(f"{model_name}: the idle colour holds no previous release to roll back to")
        active = model.blue_green.active_color
        idle = Color.green if active is Color.blue else Color.blue
        return Step(
            f"flip traffic back {active.value} → {idle.value}",
            {
                f"{at}.blueGreen.activeColor": idle.value,
                f"{at}.image.ref": idle_image.ref,
                f"{at}.modelVersion": model.blue_green.idle_model_version or "",
                f"{at}.blueGreen.idleImage.ref": model.image.ref,
                f"{at}.blueGreen.idleModelVersion": model.model_version,
            },
        )
    raise PromotionError(
        f"{model_name} uses the rolling strategy, which keeps no second release: promote the previous digest instead"
    )
