"""Every test is marked with its layer (its folder), so `pytest -m unit` / `-m "not e2e"` select by layer."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for layer in LAYERS:
            if layer in parts:
                item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def docker() -> str:
    """Path of the docker client chosen by scripts/docker-engine.sh (Debian's, which has BuildKit)."""
    hint = "the Docker engine is not available: run `bash scripts/docker-engine.sh` first"
    cache = Path(os.environ.get("MLOPS_KIT_CACHE", Path.home() / ".cache" / "mlops-kit"))
    recorded = cache / "docker-client"
    client = recorded.read_text().strip() if recorded.exists() else shutil.which("docker")
    if not client or not Path(client).exists():
        pytest.fail(f"no docker client found; {hint}", pytrace=False)
    info = subprocess.run([client, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        pytest.fail(f"`{client} info` failed ({info.stderr.strip()[:300]}); {hint}", pytrace=False)
    return client
