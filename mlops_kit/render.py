"""`mlops-kit render`: every Kubernetes object a stack would create, as YAML files, with no cluster and no Pulumi CLI.

Built by the composition root the Pulumi program uses (`infra.platform.platform`), so the review copy cannot drift
from what is deployed. Secrets are replaced by a marker naming the Pulumi secret; images that dev would build get
their tag-form name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra.config import SECRETS, StackConfig, load_stack_file
from infra.config.secrets import marker
from infra.manifests.common import Manifest
from infra.platform import platform
from mlops_kit.paths import REPO_ROOT


def stack_manifests(cfg: StackConfig) -> list[Manifest]:
    return platform(cfg, {key: marker(key) for key in SECRETS}).manifests()


def file_name(manifest: Manifest) -> str:
    namespace = manifest["metadata"].get("namespace", "_cluster")
    safe = re.sub(r"[^a-z0-9.-]", "-", manifest["metadata"]["name"].lower())
    return f"{namespace}/{manifest['kind'].lower()}-{safe}.yaml"


def render(stack: str, out_dir: Path, root: Path = REPO_ROOT) -> list[Path]:
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
