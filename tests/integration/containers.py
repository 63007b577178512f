"""Running a container for a test: start it on a loopback port, wait until its health endpoint answers."""

from __future__ import annotations

import contextlib
import subprocess
import time

import httpx
import pytest


def published_url(docker: str, name: str, container_port: int) -> tuple[str, str]:
    """(`127.0.0.1:PORT` as docker published it, the http URL of it)."""
    done = subprocess.run([docker, "port", name, f"{container_port}/tcp"], capture_output=True, text=True, check=True)
    published = done.stdout.strip().splitlines()[0]
    return published, f"http://{published}"


def wait_until_healthy(docker: str, name: str, health_url: str, timeout: float = 180) -> None:
    """Poll `health_url` until 200; fail with the container's log tail if it exits or never gets there."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health_url, timeout=2).status_code == 200:
                return
        state = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", name], capture_output=True, text=True)
        if state.stdout.strip() != "true" or time.monotonic() > deadline:
            logs = subprocess.run([docker, "logs", "--tail", "60", name], capture_output=True, text=True)
            pytest.fail(
                f"container {name} not healthy at {health_url} (running={state.stdout.strip()}):\n{logs.stdout}{logs.stderr}"
            )
        time.sleep(0.3)
