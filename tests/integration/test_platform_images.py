"""The platform images (postgres, prometheus, alertmanager, pause) as images: numeric non-root user, labels, size
budgets, layers; and `images/publish.sh` round trip through the local registry by digest. Each image run for real:
test_image_<name>.py.

Needs `bash scripts/docker-engine.sh` and `bash scripts/registry.sh` (CI runs them before pytest); the images are
built once per session (conftest.platform_images, a no-op when up to date).
"""

from __future__ import annotations

import re

import httpx
import pytest

from mlops_kit.registry import image_labels
from tests.integration.containers import REGISTRY, ROOT, inspect_image, run

pytestmark = pytest.mark.integration

# Budgets: measured 258 / 253 / 167 / 1.6 MB (images/README.md); a leaked .deb or doc tree would break them.
MAX_BYTES = {"postgres": 300e6, "prometheus": 270e6, "alertmanager": 190e6, "pause": 4e6}


# ---- every image ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAX_BYTES))
def test_image_metadata(docker: str, platform_images: dict[str, str], name: str):
    info = inspect_image(docker, platform_images[name])
    config, labels = info["Config"], info["Config"]["Labels"]
    user = config["User"].split(":")[0]
    assert user.isdigit() and user != "0", f"numeric non-root user (runAsNonRoot can check it): {config['User']!r}"
    assert labels["mlops-kit.inputs"] and labels["mlops-kit.image"] == name
    assert labels["org.opencontainers.image.title"] == f"mlops-kit-{name}"
    assert labels["org.opencontainers.image.version"] == platform_images[name].split(":")[-1]
    assert len(labels["org.opencontainers.image.revision"].removesuffix("-dirty")) == 40
    assert info["Size"] < MAX_BYTES[name], f"{name} grew to {info['Size'] / 1e6:.0f} MB"


@pytest.mark.parametrize("name", ["postgres", "alertmanager"])
def test_debian_images_are_base_plus_one_layer_without_debs(docker: str, platform_images: dict[str, str], name: str):
    info = inspect_image(docker, platform_images[name])
    base = inspect_image(docker, "mlops-kit/base:bookworm")
    assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"], "FROM the kit's base, then one layer"
    leftovers = run(
        docker, "run", "--rm", "--network", "none", "--entrypoint", "sh", platform_images[name], "-c",
        "for p in /debs /install-debs.sh /usr/sbin/policy-rc.d /var/cache/apt/archives/*.deb; do"
        " [ -e $p ] && echo $p; done;"
        " find /usr/share/doc -type f ! -name copyright; find /usr/share/man /usr/share/info -type f; true",
    ).stdout  # fmt: skip
    assert leftovers == "", f"build leftovers, docs or man pages in the image:\n{leftovers}"
    packages = info["Config"]["Labels"]["mlops-kit.debian.packages"]
    assert re.fullmatch(r"[a-z0-9.+-]+=[0-9][^ ]*", packages), packages


# ---- publishing ----------------------------------------------------------------------------------------------------

PUBLISHED = re.compile(
    rf"^(?P<name>[a-z0-9-]+) (?P<repo>{re.escape(REGISTRY)}/mlops-kit/[a-z0-9-]+)@(?P<digest>sha256:[0-9a-f]{{64}})$"
)


def test_publish_round_trip_by_digest(docker: str, platform_images: dict[str, str]):
    names = ["pause", "alertmanager"]
    first = run("bash", str(ROOT / "images" / "publish.sh"), *names, timeout=900)
    lines = first.stdout.strip().splitlines()
    assert [PUBLISHED.match(line)["name"] for line in lines] == names, first.stdout
    again = run("bash", str(ROOT / "images" / "publish.sh"), *names, timeout=300)
    assert again.stdout == first.stdout, "idempotent: same digests"
    assert again.stderr.count("[publish] up to date:") == len(names), again.stderr

    for line in lines:
        match = PUBLISHED.match(line)
        image_id = inspect_image(docker, platform_images[match["name"]])["Id"]
        manifest = httpx.get(
            f"http://{REGISTRY}/v2/mlops-kit/{match['name']}/manifests/{match['digest']}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
        assert manifest.status_code == 200 and manifest.headers["Docker-Content-Digest"] == match["digest"]
        assert manifest.json()["config"]["digest"] == image_id
        pinned = f"{match['repo']}@{match['digest']}"
        # What promotion reads to check an image serves what it is said to: the labels, through the registry's API.
        assert image_labels(pinned) == inspect_image(docker, platform_images[match["name"]])["Config"]["Labels"]
        try:
            run(docker, "pull", pinned, timeout=600)
            assert inspect_image(docker, pinned)["Id"] == image_id
        finally:
            run(docker, "image", "rm", pinned, check=False)  # the digest reference only; the image keeps its tag
