"""The Prometheus tools the monitoring tests run: the toolchain's build (tools/prometheus, the version the
prometheus image ships), or advice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops_kit import paths

INSTALL_HINT = "run `bash scripts/promtool.sh` (builds the toolchain's prometheus step: server + promtool)"


def tool(name: str) -> str:
    path = paths.tool(name)
    if not path.is_file():
        pytest.fail(f"`{path}` is missing: {INSTALL_HINT}", pytrace=False)
    return str(path)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
