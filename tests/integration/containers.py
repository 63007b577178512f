"""Running a container for a test the way Kubernetes runs it (read-only root, uid 10001, no capabilities, no new
privileges, ports on 127.0.0.1 only), waiting for it, and building the kit's images (`images/build.sh`)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_kit.waiting import GaveUp, http_ok, wait_until

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("MLOPS_KIT_REGISTRY", "127.0.0.1:5000")
APP_UID = "10001"
LOCKED_DOWN = ["--read-only", "--user", APP_UID, "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
# A writable tmpfs owned by the image's user (docker's tmpfs is root-owned; a Kubernetes emptyDir is 0777).
OWNED = f"uid={APP_UID},gid={APP_UID}"


def run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def build_image(name: str) -> str:
    """`images/build.sh NAME` (a no-op when up to date) -> the image reference it printed."""
    return run("bash", str(ROOT / "images" / "build.sh"), name, timeout=1800).stdout.strip().splitlines()[-1]


def inspect_image(docker: str, ref: str) -> dict:
    return json.loads(run(docker, "image", "inspect", ref).stdout)[0]


@contextlib.contextmanager
def container(docker: str, image: str, *options: str, args: tuple[str, ...] = ()) -> Iterator[str]:
    """`docker run -d` with `options`; removed (with its anonymous volumes) on leaving the block."""
    name = f"mlops-kit-test-{image.split('/')[-1].split(':')[0]}-{uuid.uuid4().hex[:8]}"
    run(docker, "run", "-d", "--name", name, *options, image, *args)
    try:
        yield name
    finally:
        run(docker, "rm", "-f", "-v", name, check=False)


def wait_for(docker: str, name: str, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll `check` until true; fail with the container's log tail when it exits first or never gets there."""
    try:
        wait_until(check, timeout=timeout, interval=0.3, alive=lambda: container_running(docker, name))
    except GaveUp as gave_up:
        logs = run(docker, "logs", "--tail", "60", name, check=False)
        pytest.fail(f"{name}: {what}: {gave_up}\n{logs.stdout}{logs.stderr}")


def published_url(docker: str, name: str, container_port: int) -> tuple[str, str]:
    """(`127.0.0.1:PORT` as docker published it, the http URL of it)."""
    done = subprocess.run([docker, "port", name, f"{container_port}/tcp"], capture_output=True, text=True, check=True)
    published = done.stdout.strip().splitlines()[0]
    return published, f"http://{published}"


def container_running(docker: str, name: str) -> bool:
    state = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True)
    return state.stdout.strip() == "true"


def wait_until_healthy(docker: str, name: str, health_url: str, timeout: float = 180) -> None:
    """Poll `health_url` until 200; fail with the container's log tail if it exits or never gets there."""
    try:
        wait_until(http_ok(health_url), timeout=timeout, interval=0.3, alive=lambda: container_running(docker, name))
    except GaveUp as gave_up:
        logs = subprocess.run([docker, "logs", "--tail", "60", name], capture_output=True, text=True)
        pytest.fail(f"container {name} not healthy at {health_url}: {gave_up}:\n{logs.stdout}{logs.stderr}")
