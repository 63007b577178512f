"""Image registries: a tag resolved to the digest it names, through the registry's HTTP API (no docker needed)."""

from __future__ import annotations

import httpx

from mlops_kit.errors import EnvironmentProblem, UserError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class RegistryError(UserError):
    """A reference that cannot be resolved: no tag, no registry host."""


class RegistryUnreachable(EnvironmentProblem):
    """The registry did not answer, or does not know the tag."""


def resolve_digest(reference: str, timeout: float = 10.0) -> str:
    """`registry/repo:tag` → `registry/repo@sha256:…`, asking the registry (plain HTTP only for loopback registries)."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise RegistryError(f"{reference!r} has no tag to resolve; promote an image by tag or digest")
    registry, _, repository = name.partition("/")
    if "." not in registry and ":" not in registry and registry != "localhost":
        raise RegistryError(f"{reference!r} names no registry host; use e.g. 127.0.0.1:5000/{name}:{tag}")
    scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    url = f"{scheme}://{registry}/v2/{repository}/manifests/{tag}"
    try:
        response = httpx.head(url, headers={"Accept": MANIFEST_TYPES}, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"cannot resolve {reference} to a digest through {url}: {exc}") from None
    digest = response.headers.get("Docker-Content-Digest", "")
    if not digest.startswith("sha256:"):
        raise RegistryUnreachable(f"registry answered {url} without a sha256 digest")
    return f"{name}@{digest}"
