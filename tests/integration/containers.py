"""Running a container for a test: start it on a loopback port, wait until its health endpoint answers."""

from __future__ import annotations

import subprocess

import pytest

from mlops_kit.waiting import GaveUp, http_ok, wait_until


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
