"""`mlops-kit cluster up|down|status`: the kit's local Kubernetes cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_kit.cli.app import app, command, console

cluster_app = typer.Typer(
    help="The kit's local Kubernetes control plane (kwok: real API server, simulated nodes).", no_args_is_help=True
)
app.add_typer(cluster_app, name="cluster")


def _print_cluster(state) -> None:
    ready = sum(state.nodes.values())
    console.print(
        f"cluster {state.name}: {'running' if state.running else 'stopped'}; context {state.context}; "
        f"kubeconfig {state.kubeconfig}; server {state.server or '-'}; nodes ready {ready}/{len(state.nodes)}"
    )


@command(cluster_app, "up")
def cluster_up(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Start (or reuse) the local cluster; its context is what the stacks name by default."""
    from mlops_kit import cluster

    with console.status(f"starting local cluster {name}"):
        state = cluster.up(name)
    _print_cluster(state)


@command(cluster_app, "down")
def cluster_down(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Stop and delete the local cluster."""
    from mlops_kit import cluster

    cluster.down(name)
    console.print(f"cluster {name} deleted")


@command(cluster_app, "status")
def cluster_status(name: Annotated[str, typer.Option(help="Cluster name.")] = "mlops-kit") -> None:
    """Whether the local cluster runs, its context, kubeconfig and nodes."""
    from mlops_kit import cluster

    _print_cluster(cluster.status(name))
