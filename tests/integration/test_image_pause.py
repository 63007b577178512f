"""mlops-kit/pause (the CRI sandbox image): one layer, exits 0 on SIGTERM, and reaches containerd by `docker save`
tarball and by digest from the plain-HTTP local registry (a private containerd of the test's own; Debian's containerd
is installed like `cluster up` installs it when missing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from mlops_kit.localcluster import prereqs
from mlops_kit.waiting import GaveUp, wait_until
from tests.integration.containers import LOCKED_DOWN, REGISTRY, ROOT, container, container_running, inspect_image, run

pytestmark = pytest.mark.integration

# ---- pause ---------------------------------------------------------------------------------------------------------


def test_pause_is_one_layer_with_only_the_binary(docker: str, platform_images: dict[str, str], tmp_path: Path):
    archive = tmp_path / "pause.tar"
    run(docker, "save", "-o", str(archive), platform_images["pause"])
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        assert len(manifest) == 1 and len(manifest[0]["Layers"]) == 1, manifest
        with tarfile.open(fileobj=outer.extractfile(manifest[0]["Layers"][0])) as layer:
            assert layer.getnames() == ["pause"]
            assert layer.getmember("pause").mode & 0o111
    assert inspect_image(docker, platform_images["pause"])["Config"]["Entrypoint"] == ["/pause"]


def test_pause_runs_and_exits_0_on_sigterm(docker: str, platform_images: dict[str, str]):
    with container(docker, platform_images["pause"], *LOCKED_DOWN, "--network", "none") as name:
        assert container_running(docker, name)
        run(docker, "kill", "-s", "TERM", name)
        # `docker wait` returns the exit code once it stopped; 0 = it exited by itself (not killed: 137).
        assert run(docker, "wait", name, timeout=60).stdout.strip() == "0"


def test_pause_reaches_containerd_by_tarball_and_by_digest(
    docker: str, platform_images: dict[str, str], tmp_path: Path
):
    # Debian's containerd (it ships ctr too), installed the way `cluster up` installs the node's packages.
    prereqs.ensure_packages(("containerd",))
    containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
    assert containerd and ctr, "Debian's containerd package ships containerd and ctr"
    tarball = tmp_path / "images" / "pause.tar"
    published = run("bash", str(ROOT / "images" / "publish.sh"), "--save", str(tarball.parent), "pause", timeout=300)
    assert published.stdout.startswith("pause ")
    # A private containerd (own root, state and socket; not docker's), without the CRI plugin.
    sock = tmp_path / "c.sock"
    (tmp_path / "config.toml").write_text(
        f'version = 2\nroot = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{tmp_path}/c.ttrpc.sock"\n'
    )
    log = (tmp_path / "containerd.log").open("w")
    proc = subprocess.Popen([containerd, "--config", str(tmp_path / "config.toml")], stdout=log, stderr=log)
    try:

        def answers() -> bool:
            return sock.exists() and run(ctr, "--address", str(sock), "version", check=False).returncode == 0

        try:
            wait_until(answers, timeout=30, interval=0.3, alive=lambda: proc.poll() is None)
        except GaveUp as gave_up:
            pytest.fail(f"containerd: {gave_up}\n{(tmp_path / 'containerd.log').read_text()[-3000:]}")
        run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "import", str(tarball))
        refs = run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "ls", "-q").stdout.split()
        tag = platform_images["pause"].split(":")[-1]
        assert f"{REGISTRY}/mlops-kit/pause:{tag}" in refs, refs
        # The other way onto a node: pull by the published digest from the plain-HTTP local registry.
        pinned = published.stdout.split()[1]
        run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "pull", "--plain-http", pinned, timeout=120)
        assert pinned in run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "ls", "-q").stdout.split()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
