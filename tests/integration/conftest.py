"""Real servers and tools for the integration layer: one MLflow tracking server per session, on a loopback port;
promtool from PATH (or advice)."""

from __future__ import annotations

import pytest

from mlops_kit.local import start_mlflow
from tests.integration.prometheus_tools import tool


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
