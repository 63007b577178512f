"""The project's container images, built and run for real (docker engine + local registry on this machine).

Needs `bash scripts/docker-engine.sh` and `bash scripts/registry.sh` to have run (CI runs them before pytest); the
image itself is built here, once per session, through `images/build.sh` (a no-op when it is up to date).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.integration.containers import REGISTRY, ROOT, published_url, run, wait_until_healthy

pytestmark = pytest.mark.integration

APP_UID = 10001


def _http(url: str, *, method: str = "GET", body: dict | None = None, headers: dict | None = None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read()


@pytest.fixture(scope="session")
def mlflow_image(docker: str) -> str:
    t0 = time.monotonic()
    proc = run("bash", str(ROOT / "images" / "build.sh"), "mlflow", timeout=1800)
    ref = proc.stdout.strip().splitlines()[-1]
    print(f"images/build.sh mlflow -> {ref} in {time.monotonic() - t0:.1f}s")
    return ref


@pytest.fixture(scope="session")
def mlflow_container(docker: str, mlflow_image: str):
    name = f"mlops-kit-test-mlflow-{uuid.uuid4().hex[:8]}"
    run(docker, "run", "-d", "--name", name, "-p", "127.0.0.1::5000", mlflow_image)
    try:
        port_line, url = published_url(docker, name, 5000)
        wait_until_healthy(docker, name, f"{url}/health", timeout=120)
        yield {"name": name, "url": url, "published": port_line}
    finally:
        run(docker, "rm", "-f", "-v", name, check=False)


def test_image_metadata(docker: str, mlflow_image: str):
    cfg = json.loads(run(docker, "image", "inspect", mlflow_image).stdout)[0]
    assert cfg["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    assert cfg["Config"]["Entrypoint"] == ["mlflow", "server"]
    assert cfg["Config"]["Labels"].get("mlops-kit.inputs"), "built by images/build.sh (input-hash label)"
    env = dict(e.split("=", 1) for e in cfg["Config"]["Env"])
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    # Measured 825 MB (123 MB base + 702 MB venv); guard against wheels or build tools leaking into the image.
    assert cfg["Size"] < 1_000_000_000, f"image grew to {cfg['Size'] / 1e6:.0f} MB"


def test_image_has_postgres_driver_and_no_pip(docker: str, mlflow_image: str):
    proc = run(
        docker,
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python",
        mlflow_image,
        "-c",
        "import psycopg2, mlflow, importlib.util as u; print(mlflow.__version__, u.find_spec('pip') is None)",
    )
    assert proc.stdout.split() == ["3.17.2", "True"]


def test_published_on_loopback_only(mlflow_container):
    assert mlflow_container["published"].startswith("127.0.0.1:")


def test_health(mlflow_container):
    status, _, body = _http(f"{mlflow_container['url']}/health")
    assert status == 200
    assert body.strip() == b"OK"


def test_tracking_api_works(mlflow_container):
    status, _, body = _http(
        f"{mlflow_container['url']}/api/2.0/mlflow/experiments/create",
        method="POST",
        body={"name": f"image-test-{uuid.uuid4().hex[:8]}"},
    )
    assert status == 200
    assert json.loads(body)["experiment_id"]


def test_runs_as_non_root(docker: str, mlflow_container):
    assert run(docker, "exec", mlflow_container["name"], "id", "-u").stdout.strip() == str(APP_UID)
    # Every process in the container, not only `docker exec`'s.
    top = run(docker, "top", mlflow_container["name"], "-o", "pid,uid,args").stdout.strip().splitlines()[1:]
    assert top, "no processes in the container"
    assert {line.split()[1] for line in top} == {str(APP_UID)}, top


def test_registry_round_trip(docker: str, mlflow_image: str):
    try:
        status, headers, _ = _http(f"http://{REGISTRY}/v2/")
    except (urllib.error.URLError, ConnectionError) as exc:
        pytest.fail(f"no registry at {REGISTRY} ({exc}): run `bash scripts/registry.sh` first", pytrace=False)
    assert status == 200 and headers.get("Docker-Distribution-Api-Version", "").startswith("registry/2")

    # A repository of the test's own, so deleting its manifest afterwards cannot touch images others pushed.
    name = "mlops-kit-test/mlflow"
    repo = f"{REGISTRY}/{name}"
    tag = f"{repo}:test-{uuid.uuid4().hex[:8]}"
    image_id = run(docker, "image", "inspect", "-f", "{{.Id}}", mlflow_image).stdout.strip()
    run(docker, "tag", mlflow_image, tag)
    pinned = digest = None
    try:
        t0 = time.monotonic()
        push = run(docker, "push", tag, timeout=900)
        print(f"push {tag}: {time.monotonic() - t0:.1f}s")
        digest = next(
            w
            for line in push.stdout.splitlines()
            if "digest: sha256:" in line
            for w in line.split()
            if w.startswith("sha256:")
        )
        run(docker, "image", "rm", tag)  # only the tag goes; the image stays under its mlops-kit/ name
        assert tag not in run(docker, "image", "inspect", "-f", "{{.RepoTags}}", image_id).stdout

        status, _, manifest = _http(
            f"http://{REGISTRY}/v2/{name}/manifests/{digest}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert status == 200 and json.loads(manifest)["config"]["digest"] == image_id

        pinned = f"{repo}@{digest}"
        run(docker, "pull", pinned, timeout=900)
        assert run(docker, "image", "inspect", "-f", "{{.Id}}", pinned).stdout.strip() == image_id
    finally:
        run(docker, "image", "rm", tag, check=False)
        if pinned:
            run(docker, "image", "rm", pinned, check=False)
        if digest:  # drop the test's manifest (blobs stay until the registry's garbage collection)
            with contextlib.suppress(urllib.error.URLError):
                _http(f"http://{REGISTRY}/v2/{name}/manifests/{digest}", method="DELETE")
