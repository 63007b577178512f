"""Fail fast, before any resource is registered, when the stack's cluster cannot be reached.

Without this, pulumi-kubernetes retries an unreachable API server for minutes and then prints a gRPC error; here the
user gets the context, the server address and what to do, within seconds.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import yaml

from mlops_kit.errors import EnvironmentProblem
from mlops_kit.paths import local_kubeconfig


class ClusterUnreachable(EnvironmentProblem):
    pass


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    user = [Path(p).expanduser() for p in env.split(os.pathsep) if p] if env else [Path.home() / ".kube" / "config"]
    return [*user, local_kubeconfig()]  # the kit's local clusters, kept apart from the user's file


def resolve_server(kubeconfig: str | None, context: str | None) -> tuple[str, str, Path]:
    """(context, API server URL, kubeconfig file holding it); raises listing the available contexts when unknown."""
    contexts: dict[str, dict] = {}
    clusters: dict[str, dict] = {}
    found_in: dict[str, Path] = {}
    current = None
    paths = kubeconfig_paths(kubeconfig)
    for path in paths:
        if not path.is_file():
            continue
        document = yaml.safe_load(path.read_text()) or {}
        for item in document.get("contexts") or []:
            contexts.setdefault(item["name"], item.get("context") or {})
            found_in.setdefault(item["name"], path)
        for item in document.get("clusters") or []:
            clusters.setdefault(item["name"], item.get("cluster") or {})
        current = current or document.get("current-context")
    name = context or current
    where = ", ".join(str(p) for p in paths)
    if not contexts:
        raise ClusterUnreachable(
            f"no kubeconfig found at {where}. Start the kit's local cluster with `mlops-kit cluster up` "
            "or set mlops-kit:cluster.kubeconfig / KUBECONFIG to an existing cluster's kubeconfig."
        )
    if name not in contexts:
        raise ClusterUnreachable(
            f"kubeconfig context {name!r} (mlops-kit:cluster.context) not found in {where}; "
            f"available: {sorted(contexts)}"
        )
    cluster = clusters.get(contexts[name].get("cluster", ""), {})
    server = cluster.get("server")
    if not server:
        raise ClusterUnreachable(
            f"context {name!r} names cluster {contexts[name].get('cluster')!r}, which has no server"
        )
    return name, server, found_in[name]


def check_reachable(kubeconfig: str | None, context: str | None, timeout: float = 3.0) -> Path:
    """Return the kubeconfig file to give the provider, once its API server accepts a TCP connection."""
    name, server, path = resolve_server(kubeconfig, context)
    parsed = urlparse(server)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return path
    except OSError as exc:
        raise ClusterUnreachable(
            f"the Kubernetes API server of context {name!r} ({server}) is not reachable: {exc}. Nothing was created. "
            "Start the cluster (`mlops-kit cluster up` for the local one) or point mlops-kit:cluster.context at a running cluster."
        ) from None
