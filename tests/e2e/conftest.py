"""The e2e layer: the real Pulumi CLI (built by tools/build-toolchain.sh) against the kit's local cluster (kwok control
plane, one real node, fake nodes).

The stacks run from a scratch project directory whose `infra/` links to the repo's, so setting config or secrets
never rewrites the committed Pulumi.<env>.yaml files, and state lives in a throwaway file backend in it.
"""

from __future__ import annotations

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
    # State (file backend) in the scratch project's .state/: StackRunner.select passes it to every stack it selects.
    return stacks.scratch_project(tmp_path_factory.mktemp("project"), context=CONTEXT, local_nodes="fake")


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


@pytest.fixture(scope="session")
def real_dev(tmp_path_factory, local_cluster):
    """The dev stack launched on the real node by the main job, shared by the real-pod and real-rollout modules."""
    from tests.e2e.real_stack import launch

    yield from launch(tmp_path_factory.mktemp("real"), CONTEXT)
