"""The monitoring files kept in the repo, checked when read: Prometheus rule files and Grafana dashboards.

What promtool tests in CI (`infra/monitoring/tests`) is exactly what these functions hand to the ConfigMaps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mlops_kit.paths import REPO_ROOT

MONITORING_DIR = REPO_ROOT / "infra" / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
DASHBOARDS_DIR = MONITORING_DIR / "dashboards"


def _repo_files(directory: Path, pattern: str, check: Callable[[Path, str], None]) -> dict[str, str]:
    """Every file of the repo matching `pattern`, by file name (the ConfigMap key), as written, once `check` passed."""
    files: dict[str, str] = {}
    for path in sorted(directory.glob(pattern)):
        text = path.read_text()
        check(path, text)
        files[path.name] = text
    return files


def _check_rule_file(path: Path, text: str) -> None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc}); check it with `promtool check rules {path}`") from None
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError(f"{path}: a Prometheus rule file needs a top-level `groups:` list")


def _check_dashboard(path: Path, text: str) -> None:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not document.get("uid") or not document.get("title"):
        raise ValueError(f"{path}: a provisioned dashboard needs a `uid` and a `title`")


def rule_files(directory: Path = RULES_DIR) -> dict[str, str]:
    """Every Prometheus rule file of the repo, by file name, as written."""
    return _repo_files(directory, "*.yaml", _check_rule_file)


def dashboard_files(directory: Path = DASHBOARDS_DIR) -> dict[str, str]:
    """Every Grafana dashboard of the repo, by file name, as written."""
    return _repo_files(directory, "*.json", _check_dashboard)


def checksum(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
