"""Apply promotion and rollback plans to real stacks with the Pulumi Automation API."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx

from infra.automation.gates import GateResult, Observation, PrometheusError, Thresholds, evaluate
from infra.automation.promotion import (
    PromotionError,
    Release,
    Step,
    plan_promotion,
    plan_rollback,
    release_from_outputs,
)
from infra.config import ROOT, load_stack_file

Printer = Callable[[str], None]
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class Observer(Protocol):
    def observe(self, namespace: str, service: str, track: str) -> Observation: ...


def resolve_digest(reference: str, timeout: float = 10.0) -> str:
    """`registry/repo:tag` → `registry/repo@sha256:…`, asking the registry (plain HTTP only for loopback registries)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise PromotionError(f"{reference!r} has no tag to resolve; promote an image by tag or digest")
    registry, _, repository = name.partition("/")
    if "." not in registry and ":" not in registry and registry != "localhost":
        raise PromotionError(f"{reference!r} names no registry host; use e.g. 127.0.0.1:5000/{name}:{tag}")
    scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    url = f"{scheme}://{registry}/v2/{repository}/manifests/{tag}"
    try:
        response = httpx.head(url, headers={"Accept": MANIFEST_TYPES}, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise PromotionError(f"cannot resolve {reference} to a digest through {url}: {exc}") from None
    digest = response.headers.get("Docker-Content-Digest", "")
    if not digest.startswith("sha256:"):
        raise PromotionError(f"registry answered {url} without a sha256 digest")
    return f"{name}@{digest}"


def _apply(stack: Any, step: Step, on_output: Printer, edits: dict[str, Any] | None = None) -> None:
    from pulumi import automation as auto

    for path, value in (edits if edits is not None else step.edits).items():
        if value is None:
            with contextlib.suppress(auto.CommandError):  # already absent
                stack.remove_config(path, path=True)
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            stack.set_config(path, auto.ConfigValue(text), path=True)
    stack.up(on_output=on_output, color="never")


def _check(observer: Observer | None, limits: Thresholds, namespace: str, service: str, track: str) -> GateResult:
    if observer is None:
        return GateResult(True, ["gates disabled (--no-gates)"])
    try:
        return evaluate(observer.observe(namespace, service, track), limits)
    except PrometheusError as exc:
        return GateResult(False, [str(exc)])  # fail closed


def promote(
    source: str,
    target: str,
    model: str,
    select_stack: Callable[[str], Any],
    observer: Observer | None,
    on_output: Printer = print,
    work_dir: Path = ROOT,
    digest_resolver: Callable[[str], str] = resolve_digest,
) -> Release:
    source_stack = select_stack(source)
    outputs = {k: v.value for k, v in source_stack.outputs().items()}
    if not outputs:
        raise PromotionError(f"stack {source!r} has no outputs: run `mlops-kit up -s {source}` first")
    release = release_from_outputs(outputs, model, digest_resolver)
    target_stack = select_stack(target)
    cfg = load_stack_file(target, work_dir)
    steps = plan_promotion(cfg, release)
    [model_cfg] = [m for m in cfg.models if m.name == model]
    limits = Thresholds(
        model_cfg.canary.max_error_rate, model_cfg.canary.max_p99_seconds, model_cfg.canary.max_drift_psi
    )
    on_output(f"promoting {model}: {release.image} (model version {release.model_version}) from {source} to {target}\n")
    for number, step in enumerate(steps, 1):
        on_output(f"step {number}/{len(steps)}: {step.description}\n")
        _apply(target_stack, step, on_output)
        if step.gate_track:
            result = _check(observer, limits, cfg.namespace, model, step.gate_track)
            on_output(f"gate on track {step.gate_track}: {result.describe()}\n")
            if not result.passed:
                _apply(target_stack, step, on_output, step.rollback_edits)
                raise PromotionError(f"gate failed at '{step.description}': {'; '.join(result.reasons)}; rolled back")
    return release


def rollback(
    target: str, model: str, select_stack: Callable[[str], Any], on_output: Printer = print, work_dir: Path = ROOT
) -> Step:
    stack = select_stack(target)
    step = plan_rollback(load_stack_file(target, work_dir), model)
    on_output(f"rollback {model} in {target}: {step.description}\n")
    _apply(stack, step, on_output)
    return step
