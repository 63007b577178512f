"""The e2e layer: the real Pulumi CLI (built by tools/build-toolchain.sh) against the kit's local cluster (kwok control
plane, one real node, fake nodes).

The stacks run from a scratch project directory whose `infra/` links to the repo's, so setting config or secrets
never rewrites the committed Pulumi.<env>.yaml files, and state lives in a throwaway file backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops_kit import localcluster, paths, stacks

REPO = Path(__file__).resolve().parents[2]
# A cluster of its own, so the suite never touches the one `make up` deploys to.
CLUSTER_NAME = "mlops-kit-e2e"
CONTEXT = paths.local_context(CLUSTER_NAME)


@pytest.fixture(scope="session")
def local_cluster():
    if not (stacks.toolchain_dir() / "bin" / "pulumi").exists():
        pytest.fail("the Pulumi CLI is not built: run `make toolchain` (bash tools/build-toolchain.sh)")
    state = localcluster.up(CLUSTER_NAME)
    yield state
    localcluster.down(CLUSTER_NAME)


@pytest.fixture(scope="session")
def project(tmp_path_factory, local_cluster) -> Path:
    # The stack semantics (plans, updates, drift, protection, promotion) run on the fake nodes: nothing is pulled there.
    work = stacks.scratch_project(tmp_path_factory.mktemp("project"), context=CONTEXT, local_nodes="fake")
    os.environ["PULUMI_BACKEND_URL"] = f"file://{tmp_path_factory.mktemp('backend')}"
    os.environ["PULUMI_CONFIG_PASSPHRASE"] = "e2e-only"
    return work


def kubectl_json(*args: str) -> dict:
    import json
    import subprocess

    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(paths.local_kubeconfig()), "--context", CONTEXT, *args, "-o", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture
def kubectl():
    """`kubectl(*args)` → parsed JSON, against the e2e cluster's context."""
    return kubectl_json


@pytest.fixture
def kube_context() -> str:
    return CONTEXT


class StackRunner:
    def __init__(self, project: Path) -> None:
        self.project = project
        self.log: list[str] = []

    def select(self, name: str):
        return stacks.select_stack(name, self.project / ".state", work_dir=self.project)

    def printer(self, line: str) -> None:
        self.log.append(line)


@pytest.fixture
def runner(project) -> StackRunner:
    return StackRunner(project)
