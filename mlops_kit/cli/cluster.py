"""`mlops-kit cluster up|down|status`: the kit's local Kubernetes cluster (mlops_kit.localcluster)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from mlops_kit import paths
from mlops_kit.cli.app import app, command, console

cluster_app = typer.Typer(
    help="The kit's local Kubernetes cluster: kwok control plane, one real node (kubelet + containerd), fake nodes.",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")

Name = Annotated[str, typer.Option(help="Cluster name (each name gets its own addresses, node and directories).")]


def _print_cluster(state) -> None:
    console.print(
        f"cluster {state.name}: {'running' if state.running else 'stopped'}; context {state.context}; "
        f"kubeconfig {state.kubeconfig}; server {state.server or '-'}",
        highlight=False,
    )
    for n in state.nodes:
        console.print(f"  node {n.name:<24} {'Ready' if n.ready else 'NotReady':<9} {'real' if n.real else 'fake'}",
                      highlight=False)  # fmt: skip
    if state.components:
        parts = ", ".join(f"{c} {'running' if up else 'stopped'}" for c, up in state.components.items())
        console.print(f"  real node {state.node_ip} (Services {state.service_cidr}): {parts}", highlight=False)


@command(cluster_app, "up")
def cluster_up(name: Name = paths.LOCAL_CLUSTER) -> None:
    """Start (or reuse, or repair) the local cluster and its real node; its context is the stacks' default."""
    from mlops_kit import localcluster

    started = time.monotonic()
    with console.status(f"starting local cluster {name} (control plane, real node)"):
        state = localcluster.up(name)
    _print_cluster(state)
    console.print(
        f"up in {time.monotonic() - started:.1f} s; try: kubectl --kubeconfig {state.kubeconfig} "
        f"--context {state.context} get nodes",
        highlight=False,
    )


@command(cluster_app, "down")
def cluster_down(name: Name = paths.LOCAL_CLUSTER) -> None:
    """Stop and delete the local cluster; nothing of its node stays on the machine."""
    from mlops_kit import localcluster

    localcluster.down(name)
    console.print(f"cluster {name} deleted")


@command(cluster_app, "status")
def cluster_status(name: Name = paths.LOCAL_CLUSTER) -> None:
    """Whether the local cluster runs; each node Ready or not, real or fake; the real node's processes."""
    from mlops_kit import localcluster

    _print_cluster(localcluster.status(name))
