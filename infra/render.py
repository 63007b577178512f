"""`mlops-kit render`: every Kubernetes object a stack would create, as YAML files, with no cluster and no Pulumi CLI.

Built by the same pure builders the Pulumi components use, so the review copy cannot drift from what is deployed.
Secrets are replaced by a marker naming the Pulumi secret; images that dev would build get their tag-form name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra.config import ROOT, Image, ModelService, StackConfig, load_stack_file
from infra.manifests.common import Manifest
from infra.manifests.model_service import model_service_manifests
from infra.manifests.monitoring import monitoring_manifests
from infra.manifests.namespace import namespace_manifests
from infra.manifests.retraining import retraining_manifests
from infra.manifests.tracking import tracking_manifests


def secret_marker(key: str) -> str:
    return f"<pulumi secret mlops-kit:{key}>"


def _image_for_review(image: Image | None, model: ModelService) -> str | None:
    if image is None:
        return None
    if image.ref:
        return image.ref
    assert image.build is not None
    return f"{image.build.registry}/{image.build.repository}:{model.name}-{model.model_version or 'latest'}"


def stack_manifests(cfg: StackConfig) -> list[Manifest]:
    objects = namespace_manifests(cfg)
    objects += tracking_manifests(cfg, secret_marker("postgresPassword"))
    objects += monitoring_manifests(cfg, secret_marker("grafanaAdminPassword"))
    objects += retraining_manifests(cfg)
    for model in cfg.models:
        primary = _image_for_review(model.image, model)
        candidate_config = model.canary.image if model.strategy == "canary" else model.blue_green.idle_image
        candidate = _image_for_review(candidate_config, model) or primary
        manifests, _ = model_service_manifests(cfg, model, {"primary": primary, "candidate": candidate})
        objects += manifests
    return objects


def file_name(manifest: Manifest) -> str:
    namespace = manifest["metadata"].get("namespace", "_cluster")
    safe = re.sub(r"[^a-z0-9.-]", "-", manifest["metadata"]["name"].lower())
    return f"{namespace}/{manifest['kind'].lower()}-{safe}.yaml"


def render(stack: str, out_dir: Path, root: Path = ROOT) -> list[Path]:
    cfg = load_stack_file(stack, root)
    written = []
    for manifest in stack_manifests(cfg):
        path = out_dir / file_name(manifest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False))
        written.append(path)
    return written


def summary(paths: list[Path]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for path in paths:
        kind = yaml.safe_load(path.read_text())["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))
