"""Promotion and rollback applied to real stacks with the Pulumi Automation API.

Promotion never rebuilds: the target runs the exact image digest and registry version the source stack exported.
The target's strategy (infra/strategies/) turns it into ordered steps; each step is a set of `pulumi config set
--path` edits, then `pulumi up`, then (where the step says so) an analysis of the new track over Prometheus. A failed
analysis applies the step's rollback edits.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from infra.config import ModelServiceConfig, StackConfig, load_stack_file
from infra.strategies import plan_promotion, plan_rollback
from infra.strategies.base import PromotionError, Release, Step
from mlops_kit.analysis import AnalysisResult, Observation, Schedule, Thresholds, run_analysis
from mlops_kit.errors import EnvironmentProblem
from mlops_kit.model_registry import ModelRegistry, TrackingUnreachable, promotion_tag, record_tag_value
from mlops_kit.paths import REPO_ROOT
from mlops_kit.registry import image_labels, resolve_digest

Printer = Callable[[str], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AnalysisFailed(EnvironmentProblem):
    """The new track did not pass its analysis; the step was rolled back."""


def release_from_outputs(outputs: dict[str, Any], model: str, resolve: Callable[[str], str]) -> Release:
    """The image and version a source stack runs, by digest (tags are resolved through the registry)."""
    models = outputs.get("models") or {}
    if model not in models:
        raise PromotionError(f"source stack exports no model {model!r}; it has {sorted(models)}")
    entry = models[model]
    image = entry["image"]
    if "@sha256:" not in image:
        image = resolve(image)
    return Release(model, image, str(entry.get("modelVersion") or ""))


# What the serving image says it serves (images/serving/Dockerfile's LABEL lines).
MODEL_NAME_LABEL, MODEL_VERSION_LABEL = "mlops-kit.model.name", "mlops-kit.model.version"


def check_order(source: str, target: str, target_cfg: StackConfig) -> None:
    """Releases move one link of the chain at a time: the target names its source (`promotion.source`)."""
    expected = target_cfg.promotion.source
    if expected is None:
        raise PromotionError(
            f"stack {target!r} takes no promotions (mlops-kit:promotion.source is not set: it builds its own images)"
        )
    if source != expected:
        raise PromotionError(
            f"stack {target!r} takes releases from {expected!r} (mlops-kit:promotion.source), not from {source!r}: "
            f"promote {source} → … → {expected} first"
        )


def check_labels(release: Release, model: ModelServiceConfig, labels: dict[str, str]) -> None:
    """The image must say it serves the model and version being promoted; anything else is refused, naming what
    differs (a stale digest in the source stack, a version typed by hand)."""
    expected = {MODEL_NAME_LABEL: model.model_name or model.name, MODEL_VERSION_LABEL: release.model_version}
    differs = [
        f"{key} is {labels.get(key)!r}, the promotion says {value!r}"
        for key, value in expected.items()
        if labels.get(key) != value
    ]
    if differs:
        raise PromotionError(f"image {release.image} does not serve what is promoted: " + "; ".join(differs))


def origin_of(stack: str, work_dir: Path = REPO_ROOT) -> tuple[str, StackConfig]:
    """The first stack (name, config) of the chain `stack` takes releases from (the one that builds them, e.g. dev):
    its MLflow is the registry every release of the chain comes from."""
    seen = [stack]
    cfg = load_stack_file(stack, work_dir)
    while cfg.promotion.source is not None:
        if cfg.promotion.source in seen:
            raise PromotionError(
                f"mlops-kit:promotion.source makes a loop: {' → '.join([*seen, cfg.promotion.source])}; "
                "the first stack of a chain sets no source"
            )
        seen.append(cfg.promotion.source)
        cfg = load_stack_file(cfg.promotion.source, work_dir)
    return seen[-1], cfg


# The aliases the champion gate sets (services/training/champion_gate.py): a version it has judged.
GATE_ALIASES = frozenset({"champion", "challenger"})


def accepted_aliases(source: str, source_cfg: StackConfig) -> frozenset[str]:
    """The registry must agree that the source runs what it exports. A stack that takes promotions carries its own
    name as an alias on the version it runs (the kit sets it when a promotion lands); the first stack of the chain
    builds its own releases, which must be versions the champion gate judged."""
    own = frozenset({source})
    return own if source_cfg.promotion.source is not None else own | GATE_ALIASES


def check_registry(release: Release, model_name: str, carried: set[str], accepted: frozenset[str]) -> None:
    if not carried & accepted:
        raise PromotionError(
            f"version {release.model_version} of {model_name} carries aliases {sorted(carried) or 'none'} in the "
            f"registry; promoting it needs one of {sorted(accepted)}: the registry does not say the source runs it "
            "(a version the champion gate never judged, or one the source has since replaced)"
        )


class Observer(Protocol):
    def observe(self, namespace: str, service: str, track: str, window_seconds: int) -> Observation: ...


# (namespace, Service name, requests/s, seconds) -> a context that sends that traffic while it is open.
TrafficSource = Callable[[str, str, float, float], AbstractContextManager[Any]]


def _apply(stack: Any, step: Step, on_output: Printer, edits: dict[str, Any] | None = None) -> None:
    from pulumi import automation as auto

    for path, value in (edits if edits is not None else step.edits).items():
        if value is None:
            with contextlib.suppress(auto.CommandError):  # already absent
                stack.remove_config(path, path=True)
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            stack.set_config(path, auto.ConfigValue(text), path=True)
    stack.write_back()  # the promoted config lands in the tracked Pulumi.<env>.yaml: a reviewable change
    stack.up(on_output=on_output, color="never")


def _record(stack: Any, record: dict[str, Any]) -> None:
    """The promotion's record as `promotion.last` in the target's config (so in its stack file: reviewable, and the
    program exports it as `lastPromotion`), replacing the previous one; one CLI call for all of its leaves."""
    from pulumi import automation as auto

    with contextlib.suppress(auto.CommandError):  # no previous record
        stack.remove_config("promotion.last", path=True)
    leaves = {f"promotion.last.{key}": value for key, value in record.items() if key != "analysis"}
    leaves |= {f"promotion.last.analysis[{i}]": line for i, line in enumerate(record["analysis"])}
    stack.set_all_config({key: auto.ConfigValue(str(value)) for key, value in leaves.items()}, path=True)


def _mark_registry(
    registry: ModelRegistry,
    model_name: str,
    target: str,
    record: dict[str, Any],
    on_output: Printer,
    runs_it: bool,
) -> None:
    """After the stacks changed: the record as a tag on the version, and the target's alias on it if the target now
    runs it. The target already runs the outcome, so a registry that fails now is reported, not raised."""
    version = record["modelVersion"]
    try:
        registry.set_tag(model_name, version, promotion_tag(target), record_tag_value(record))
        if runs_it:
            registry.set_alias(model_name, target, version)
            on_output(f"registry: {model_name} version {version} is now @{target}\n")
    except TrackingUnreachable as exc:
        on_output(f"warning: {target} runs the outcome, but the registry was not marked: {exc}\n")


def _analyse(
    observer: Observer | None,
    model: ModelServiceConfig,
    namespace: str,
    step: Step,
    on_output: Printer,
    traffic: TrafficSource | None,
    sleep: Callable[[float], None],
) -> AnalysisResult:
    if observer is None:
        return AnalysisResult(True, ["analysis disabled (--no-gates)"])
    settings = model.analysis
    schedule = Schedule(settings.interval_seconds, settings.measurements, settings.failure_limit)
    limits = Thresholds(
        settings.max_error_rate,
        settings.max_p99_seconds,
        settings.max_drift_psi,
        settings.min_requests,
        settings.min_drift_rows,
    )
    track = step.gate_track or ""
    on_output(
        f"analysis of track {track}: {schedule.measurements} measurements every {schedule.interval_seconds} s, failure limit "
        f"{schedule.failure_limit}, at least {limits.min_requests} requests each\n"
    )
    sending = contextlib.nullcontext()
    if step.load_route and traffic and settings.preview_load_rps > 0:
        seconds = schedule.interval_seconds * schedule.measurements + 30
        sending = traffic(namespace, model.name + step.load_route, settings.preview_load_rps, seconds)
        on_output(
            f"sending {settings.preview_load_rps:g} requests/s of held-out rows to {model.name}{step.load_route}\n"
        )
    with sending:
        return run_analysis(
            lambda window: observer.observe(namespace, model.name, track, window), schedule, limits, on_output, sleep
        )


def promote(
    source: str,
    target: str,
    model: str,
    select_stack: Callable[[str], Any],
    observer: Observer | None,
    on_output: Printer = print,
    work_dir: Path = REPO_ROOT,
    digest_resolver: Callable[[str], str] = resolve_digest,
    label_reader: Callable[[str], dict[str, str]] = image_labels,
    traffic: TrafficSource | None = None,
    sleep: Callable[[float], None] = time.sleep,
    *,
    registry: ModelRegistry,
) -> Release:
    """Checks first (chain order, source outputs, the image's labels, the registry's aliases), so a refused promotion
    changes nothing."""
    cfg = load_stack_file(target, work_dir)
    check_order(source, target, cfg)
    source_cfg = load_stack_file(source, work_dir)
    source_stack = select_stack(source)
    outputs = {k: v.value for k, v in source_stack.outputs().items()}
    if not outputs:
        raise PromotionError(f"stack {source!r} has no outputs: run `mlops-kit up -s {source}` first")
    release = release_from_outputs(outputs, model, digest_resolver)
    steps = plan_promotion(cfg, release)
    [model_cfg] = [m for m in cfg.models if m.name == model]
    check_labels(release, model_cfg, label_reader(release.image))
    model_name = model_cfg.model_name  # defaults to the service's name (config validation)
    carried = registry.aliases(model_name, release.model_version)
    check_registry(release, model_name, carried, accepted_aliases(source, source_cfg))
    target_stack = select_stack(target)
    on_output(f"promoting {model}: {release.image} (model version {release.model_version}) from {source} to {target}\n")
    record = {"model": model, "image": release.image, "modelVersion": release.model_version, "source": source}
    measured: list[str] = []
    for number, step in enumerate(steps, 1):
        on_output(f"step {number}/{len(steps)}: {step.description}\n")
        _apply(target_stack, step, on_output)
        if step.gate_track:
            result = _analyse(observer, model_cfg, cfg.namespace, step, on_output, traffic, sleep)
            on_output(f"analysis of track {step.gate_track}: {result.describe()}\n")
            measured += [f"{step.description}: {line}" for line in result.measurements]
            if not result.passed:
                reason = f"analysis failed at '{step.description}': {'; '.join(result.reasons)}"
                failed = {**record, "at": _now(), "result": f"rolled back: {reason}", "analysis": measured}
                _record(target_stack, failed)
                _apply(target_stack, step, on_output, step.rollback_edits)
                _mark_registry(registry, model_name, target, failed, on_output, runs_it=False)
                raise AnalysisFailed(f"{reason}; rolled back")
    landed = {**record, "at": _now(), "result": "promoted", "analysis": measured}
    _record(target_stack, landed)
    target_stack.write_back()
    target_stack.up(on_output=on_output, color="never")  # only the lastPromotion output changes
    _mark_registry(registry, model_name, target, landed, on_output, runs_it=True)
    return release


def rollback(
    target: str,
    model: str,
    select_stack: Callable[[str], Any],
    on_output: Printer = print,
    work_dir: Path = REPO_ROOT,
    registry: ModelRegistry | None = None,
) -> Step:
    """The strategy's rollback edits, then `up`; with a registry, the target's alias follows to the version it runs
    again (after the rollback: a registry that fails only warns, the rollback does not wait for it)."""
    stack = select_stack(target)
    step = plan_rollback(load_stack_file(target, work_dir), model)
    on_output(f"rollback {model} in {target}: {step.description}\n")
    _apply(stack, step, on_output)
    if registry is not None:
        [restored] = [m for m in load_stack_file(target, work_dir).models if m.name == model]
        if restored.model_version:
            record = {"modelVersion": restored.model_version, "image": restored.image.ref, "source": target,
                      "at": _now(), "result": "restored by mlops-kit rollback"}  # fmt: skip
            _mark_registry(registry, restored.model_name, target, record, on_output, runs_it=True)
    return step
