"""Real servers and tools for the integration layer: one MLflow tracking server per session, on a loopback port;
the toolchain's promtool (or advice); the platform images, built once."""

from __future__ import annotations

import pytest

from mlops_kit.local import start_mlflow
from tests.integration.containers import build_image
from tests.integration.prometheus_tools import tool

# The images the kit runs beside the model servers; built once per session (a no-op when up to date).
PLATFORM_IMAGES = ("postgres", "prometheus", "alertmanager", "pause")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tracking_uri(mlflow_server) -> str:
    return mlflow_server.url


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def platform_images(docker: str) -> dict[str, str]:
    """name -> the built image reference (mlops-kit/NAME:TAG)."""
    return {name: build_image(name) for name in PLATFORM_IMAGES}
