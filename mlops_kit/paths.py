"""Every place on disk the kit reads or writes, in one module.

A leaf: it imports nothing from the kit, so the Pulumi program (infra/), the CLI, the tests and the benchmarks all
take their locations from here and no two of them can disagree about a fallback.

Per machine (outlives checkouts and runs): ``$MLOPS_KIT_CACHE`` (default ``~/.cache/mlops-kit``): the toolchain, the
local clusters, wheelhouses, build contexts, the docker client. Per checkout: ``.state/`` (Pulumi file backend, local
stack secrets, the demo's servers), never tracked by git.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLUSTER = "mlops-kit"  # the cluster `make up` and `mlops-kit cluster up` make


def cache_dir() -> Path:
    return Path(os.environ.get("MLOPS_KIT_CACHE") or Path.home() / ".cache" / "mlops-kit")


def toolchain_dir() -> Path:
    return cache_dir() / "toolchain"


def toolchain_bin() -> Path:
    return toolchain_dir() / "bin"


def tool(name: str) -> Path:
    """A toolchain binary's path (it may not exist yet: callers check and advise `make toolchain`)."""
    return toolchain_bin() / name


def kwok_workdir() -> Path:
    """kwokctl's work directory: cluster configs, pki, logs, etcd data."""
    return cache_dir() / "kwok"


def local_kubeconfig() -> Path:
    """The kubeconfig holding every local cluster's context; the user's ~/.kube/config is never written."""
    return kwok_workdir() / "kubeconfig"


def local_context(cluster: str = LOCAL_CLUSTER) -> str:
    return f"kwok-{cluster}"


def build_dir(name: str) -> Path:
    """A staged image build context (images/build.sh, images/serving/stage.sh)."""
    return cache_dir() / "build" / name


def state_dir() -> Path:
    """The checkout's own state: ``$MLOPS_KIT_STATE`` or ``<repo>/.state``."""
    return Path(os.environ.get("MLOPS_KIT_STATE") or REPO_ROOT / ".state").resolve()


def pulumi_backend_dir(state: Path | None = None) -> Path:
    return (state or state_dir()) / "pulumi"


def expand(path: str) -> str:
    """``~``, ``$VARS`` and ``${MLOPS_KIT_CACHE}`` (with its default) expanded, for paths written in stack config."""
    return os.path.expanduser(os.path.expandvars(path.replace("${MLOPS_KIT_CACHE}", str(cache_dir()))))


def cluster_state_dir(cluster: str) -> Path:
    """Pulumi state and workspace of the stacks deployed to local cluster `cluster`: they live and die with it."""
    return cache_dir() / "state" / cluster
