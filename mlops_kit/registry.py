"""Image registries through their HTTP API (no docker needed): a tag resolved to the digest it names, and the labels
an image by digest carries."""

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


def _api(name: str, reference: str) -> tuple[str, str]:
    """(`https://host/v2/repo`, repo) of an image name with its registry host (plain HTTP only for loopback)."""
    registry, _, repository = name.partition("/")
    if "." not in registry and ":" not in registry and registry != "localhost":
        raise RegistryError(f"{reference!r} names no registry host; use e.g. 127.0.0.1:5000/{name}")
    scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
    return f"{scheme}://{registry}/v2/{repository}", repository


def resolve_digest(reference: str, timeout: float = 10.0) -> str:
    """`registry/repo:tag` → `registry/repo@sha256:…`, asking the registry."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise RegistryError(f"{reference!r} has no tag to resolve; promote an image by tag or digest")
    api, _ = _api(name, reference)
    url = f"{api}/manifests/{tag}"
    try:
        response = httpx.head(url, headers={"Accept": MANIFEST_TYPES}, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"cannot resolve {reference} to a digest through {url}: {exc}") from None
    digest = response.headers.get("Docker-Content-Digest", "")
    if not digest.startswith("sha256:"):
        raise RegistryUnreachable(f"registry answered {url} without a sha256 digest")
    return f"{name}@{digest}"


def image_labels(reference: str, timeout: float = 10.0) -> dict[str, str]:
    """The labels (`LABEL` lines) of the image `registry/repo@sha256:…`: its manifest, then its config blob."""
    name, _, digest = reference.partition("@")
    if not digest.startswith("sha256:"):
        raise RegistryError(f"{reference!r} is not an image by digest (name@sha256:…)")
    api, _ = _api(name, reference)
    try:
        manifest = httpx.get(f"{api}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}, timeout=timeout)
        manifest.raise_for_status()
        body = manifest.json()
        if "manifests" in body:  # an index: the labels are the same on every platform; take the first
            child = httpx.get(
                f"{api}/manifests/{body['manifests'][0]['digest']}", headers={"Accept": MANIFEST_TYPES}, timeout=timeout
            )
            child.raise_for_status()
            body = child.json()
        config = httpx.get(f"{api}/blobs/{body['config']['digest']}", timeout=timeout, follow_redirects=True)
        config.raise_for_status()
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"cannot read the labels of {reference}: {exc}") from None
    return dict((config.json().get("config") or {}).get("Labels") or {})
