"""The serving image, built and run for real: a model trained into a real MLflow registry, baked into the image by
`images/build.sh serving`, run locked down (read-only root, no capabilities, no new privileges, uid 10001, published
on 127.0.0.1 only), exercised over HTTP, stopped under load, and pushed/pulled through the local registry.

Needs the docker engine (`bash scripts/docker-engine.sh`) and the local registry (`bash scripts/registry.sh`).
One file over 300 lines on purpose: every test here shares one image build (minutes) and the container run from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_breast_cancer

from services.training.config import TrainingConfig
from services.training.pipeline import run_training
from tests.integration.containers import published_url, wait_until_healthy
from tests.integration.serving_contract import (
    BAD_PAYLOADS,
    assert_bad_payload_rejected,
    assert_batch_of_named_rows_is_accurate,
    assert_single_row_prediction,
    metric_total,
)

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("MLOPS_KIT_REGISTRY", "127.0.0.1:5000")
MODEL = "served-image"
APP_UID = "10001"
MAX_IMAGE_BYTES = 500_000_000  # the image budget; measured 496 MB
LOCKED_DOWN = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


def _run(*args: str, timeout: float = 300, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def trained(tracking_uri):
    return run_training(TrainingConfig(model_name=MODEL), tracking_uri)


def _build(docker: str, tracking_uri: str, tag: str, model_version: str) -> dict:
    """images/build.sh serving with the model downloaded from the registry; returns `docker image inspect`."""
    env = dict(os.environ)
    env.update(
        {"MODEL_NAME": MODEL, "MODEL_VERSION": model_version, "MLFLOW_TRACKING_URI": tracking_uri, "IMAGE_TAG": tag}
    )
    env.pop("MODEL_DIR", None)
    proc = _run("bash", str(ROOT / "images" / "build.sh"), "serving", timeout=1800, env=env)
    ref = proc.stdout.strip().splitlines()[-1]
    assert ref == f"mlops-kit/serving:{tag}", proc.stderr[-2000:]
    return json.loads(_run(docker, "image", "inspect", ref).stdout)[0]


@pytest.fixture(scope="session")
def image(docker, trained, tracking_uri):
    """The image of the trained model, under a tag of this session (removed at the end; layers stay cached)."""
    tag = f"test-{uuid.uuid4().hex[:8]}"
    inspect = _build(docker, tracking_uri, tag, trained.model_version)
    yield {"ref": f"mlops-kit/serving:{tag}", "inspect": inspect}
    _run(docker, "image", "rm", f"mlops-kit/serving:{tag}", check=False)


@dataclass
class Container:
    name: str
    url: str
    published: str


@contextlib.contextmanager
def _container(docker: str, ref: str):
    name = f"mlops-kit-test-serving-{uuid.uuid4().hex[:8]}"
    _run(docker, "run", "-d", "--name", name, *LOCKED_DOWN, "-p", "127.0.0.1::3000", ref)
    try:
        published, url = published_url(docker, name, 3000)
        wait_until_healthy(docker, name, f"{url}/readyz")
        yield Container(name, url, published)
    finally:
        _run(docker, "rm", "-f", "-v", name, check=False)


@pytest.fixture(scope="session")
def container(docker, image):
    with _container(docker, image["ref"]) as running:
        yield running


@pytest.fixture(scope="session")
def client(container):
    with httpx.Client(base_url=container.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def dataset():
    return load_breast_cancer(as_frame=True)


# --- the image ----------------------------------------------------------------------------------------------------


def test_image_metadata(image, trained):
    config, labels = image["inspect"]["Config"], image["inspect"]["Config"]["Labels"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert "3000/tcp" in config["ExposedPorts"]
    assert config["Cmd"] == [
        "bentoml", "serve", "services.serving.service:ModelServer", "--host", "0.0.0.0", "--port", "3000"
    ]  # fmt: skip
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["MODEL_URI"] == "/opt/model"
    assert env["BENTOML_HOME"].startswith("/tmp/"), "BentoML state must live on the writable tmpfs"
    assert labels["mlops-kit.model.name"] == MODEL
    assert labels["mlops-kit.model.version"] == trained.model_version
    assert labels["org.opencontainers.image.title"]
    assert labels["org.opencontainers.image.version"]
    # The commit the code was baked from (+ "-dirty" with local changes); others may have committed since.
    revision = labels["org.opencontainers.image.revision"].removesuffix("-dirty")
    assert len(revision) == 40, revision
    assert _run("git", "-C", str(ROOT), "merge-base", "--is-ancestor", revision, "HEAD", check=False).returncode == 0
    assert labels.get("mlops-kit.inputs"), "built by images/build.sh (input-hash label)"


def test_image_size_within_budget(image):
    size = image["inspect"]["Size"]
    print(f"serving image: {size / 1e6:.0f} MB")
    assert size <= MAX_IMAGE_BYTES, f"image is {size / 1e6:.0f} MB, budget {MAX_IMAGE_BYTES / 1e6:.0f} MB"


def test_image_has_runtime_deps_only(docker, image):
    # mlflow-skinny, not mlflow: no Flask/SQLAlchemy/alembic (the tracking server), no gunicorn, no pip.
    absent = ("pip", "setuptools", "flask", "sqlalchemy", "alembic", "gunicorn")
    script = f"import importlib.util as u, bentoml, sklearn, skops, mlflow.sklearn; print(*[u.find_spec(m) is None for m in {absent}])"
    proc = _run(docker, "run", "--rm", "--network", "none", *LOCKED_DOWN, "--entrypoint", "python", image["ref"],
                "-c", script)  # fmt: skip
    assert proc.stdout.split() == ["True"] * len(absent), dict(zip(absent, proc.stdout.split(), strict=False))


def test_model_only_change_rebuilds_only_the_model_layer(docker, image, tracking_uri):
    """A new model version on unchanged code: every layer but the last (COPY model/) is shared with the image."""
    second = run_training(TrainingConfig(model_name=MODEL), tracking_uri)
    tag = f"test-{uuid.uuid4().hex[:8]}"
    try:
        rebuilt = _build(docker, tracking_uri, tag, second.model_version)
        before, after = image["inspect"]["RootFS"]["Layers"], rebuilt["RootFS"]["Layers"]
        assert len(before) == len(after)
        assert before[:-1] == after[:-1], "only the model layer may differ"
        assert before[-1] != after[-1]
        assert rebuilt["Config"]["Labels"]["mlops-kit.model.version"] == second.model_version
    finally:
        _run(docker, "image", "rm", f"mlops-kit/serving:{tag}", check=False)


# --- the running container ----------------------------------------------------------------------------------------


def test_published_on_loopback_only(container):
    assert container.published.startswith("127.0.0.1:")


def test_single_row_prediction(client, dataset, trained):
    assert_single_row_prediction(client, dataset, MODEL, trained.model_version)


def test_batch_prediction(client, dataset):
    assert_batch_of_named_rows_is_accurate(client, dataset)


def test_model_endpoint_reads_the_baked_model(client, trained):
    info = client.get("/model/").json()
    assert (info["name"], info["version"], info["run_id"]) == (MODEL, trained.model_version, trained.run_id)
    assert info["uri"] == "/opt/model"
    assert info["drift_baseline"] is True


def test_metrics_and_health(client, dataset):
    assert client.post("/predict", json={"instances": dataset.data.iloc[:5].values.tolist()}).status_code == 200
    assert metric_total(client, "mlops_predictions_total", model=MODEL) >= 5
    assert client.get("/readyz").status_code == 200
    assert client.get("/livez").status_code == 200


def test_runs_as_uid_10001(docker, container):
    assert _run(docker, "exec", container.name, "id", "-u").stdout.strip() == APP_UID
    top = _run(docker, "top", container.name, "-o", "pid,uid,args").stdout.strip().splitlines()[1:]
    assert len(top) >= 2, f"expected the BentoML supervisor and a worker: {top}"
    assert {line.split()[1] for line in top} == {APP_UID}, top


def test_root_filesystem_is_read_only(docker, container):
    host_config = json.loads(_run(docker, "inspect", container.name).stdout)[0]["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["CapDrop"] == ["ALL"]
    write = _run(docker, "exec", container.name, "sh", "-c", "touch /opt/model/x || touch /srv/app/x", check=False)
    assert write.returncode != 0


def test_bad_payloads_get_400_and_the_container_keeps_serving(docker, container, client, dataset):
    for case, body, fragment in BAD_PAYLOADS:
        assert_bad_payload_rejected(client, case, body, fragment)
    assert _run(docker, "inspect", "-f", "{{.State.Running}}", container.name).stdout.strip() == "true"
    response = client.post("/predict", json={"instances": [dataset.data.iloc[1].tolist()]})
    assert response.status_code == 200


# --- SIGTERM under load -------------------------------------------------------------------------------------------

LOAD_REQUESTS = 200
LOAD_THREADS = 16
STOP_AFTER = 60  # completed requests before `docker stop`, so the stop lands mid-load


@dataclass
class Outcome:
    started: float  # monotonic, before the connection is opened
    ended: float
    kind: str  # "ok" | "refused" | "failed"
    detail: str


def _classify(send) -> tuple[str, str]:
    """One request on a fresh connection (no keep-alive, so no request can race the close of an idle connection).

    ok      : 200 with one prediction.
    refused : no HTTP response byte at all: the connection was refused, reset, or closed before a response. That is
              how "nothing listens any more" looks from the client: directly (ECONNREFUSED) or through docker's
              userland proxy, which accepts on 127.0.0.1 and closes (reset / empty response) once the container's
              listener is gone.
    failed  : anything else: a non-200 status, a cut-off or malformed response, a timeout.
    """
    try:
        response = send()
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError) as exc:
        if isinstance(exc, httpx.RemoteProtocolError) and "without sending" not in str(exc):
            return "failed", repr(exc)  # a response had started, then broke
        return "refused", repr(exc)
    except httpx.HTTPError as exc:  # timeouts, write errors, ...
        return "failed", repr(exc)
    if response.status_code != 200:
        return "failed", f"HTTP {response.status_code}: {response.text[:200]}"
    try:
        [prediction] = response.json()
        assert prediction["label"] in (0, 1)
    except (ValueError, KeyError, AssertionError) as exc:
        return "failed", f"bad body {response.text[:200]!r}: {exc!r}"
    return "ok", ""


def test_sigterm_under_load_drains_accepted_requests(docker, image, dataset):
    """`docker stop -t 20` while 16 clients send 200 requests.

    Accepted before the stop = requests whose connection was opened before `docker stop` was invoked (the signal
    reaches the server only after that, so the listener was open for all of them): every one must succeed.
    After the stop: requests may succeed or be refused (see _classify); none may fail.
    The container must exit by itself within the grace period: code 0 or 143 (137 would be docker's SIGKILL at 20 s).
    """
    body = {"instances": [dataset.data.iloc[0].tolist()]}
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    remaining = iter(range(LOAD_REQUESTS))

    with _container(docker, image["ref"]) as running:

        def client_loop() -> None:
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(base_url=running.url, timeout=30, limits=limits) as http:
                for _ in remaining:  # a shared iterator: LOAD_REQUESTS in all
                    started = time.monotonic()
                    kind, detail = _classify(lambda: http.post("/predict", json=body))
                    with lock:
                        outcomes.append(Outcome(started, time.monotonic(), kind, detail))

        threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(LOAD_THREADS)]
        for thread in threads:
            thread.start()
        while True:
            with lock:
                if len(outcomes) >= STOP_AFTER:
                    break
            time.sleep(0.005)
        stop_at = time.monotonic()
        _run(docker, "stop", "-t", "20", running.name, timeout=120)
        for thread in threads:
            thread.join(timeout=120)
        state = json.loads(_run(docker, "inspect", running.name).stdout)[0]["State"]
        logs = _run(docker, "logs", "--tail", "30", running.name, check=False)

    assert len(outcomes) == LOAD_REQUESTS
    before = [o for o in outcomes if o.started < stop_at]
    after = [o for o in outcomes if o.started >= stop_at]
    in_flight = [o for o in before if o.ended > stop_at]
    summary = {
        "before": {k: sum(o.kind == k for o in before) for k in ("ok", "refused", "failed")},
        "after": {k: sum(o.kind == k for o in after) for k in ("ok", "refused", "failed")},
        "in_flight_at_stop": len(in_flight),
        "exit_code": state["ExitCode"],
    }
    print(f"SIGTERM under load: {summary}")
    assert in_flight, "the stop must land while requests are in flight"
    not_ok_before = [o for o in before if o.kind != "ok"]
    assert not not_ok_before, f"accepted before the stop but not served: {not_ok_before[:5]}\n{logs.stderr[-2000:]}"
    failed_after = [o for o in after if o.kind == "failed"]
    assert not failed_after, f"failed (not refused) after the stop: {failed_after[:5]}"
    assert not state["OOMKilled"]
    assert state["ExitCode"] in (0, 143), f"exit code {state['ExitCode']}\n{logs.stdout}{logs.stderr}"


# --- registry -----------------------------------------------------------------------------------------------------


def test_registry_round_trip(docker, image):
    try:
        response = httpx.get(f"http://{REGISTRY}/v2/", timeout=5)
    except httpx.HTTPError as exc:
        pytest.fail(f"no registry at {REGISTRY} ({exc}): run `bash scripts/registry.sh` first", pytrace=False)
    assert response.headers.get("Docker-Distribution-Api-Version", "").startswith("registry/2")

    name = "mlops-kit-test/serving"  # a repository of the test's own: deleting its manifest touches nobody else's
    tag = f"{REGISTRY}/{name}:test-{uuid.uuid4().hex[:8]}"
    image_id = image["inspect"]["Id"]
    _run(docker, "tag", image["ref"], tag)
    pinned = digest = None
    try:
        push = _run(docker, "push", tag, timeout=900)
        digest = next(
            word
            for line in push.stdout.splitlines()
            if "digest: sha256:" in line
            for word in line.split()
            if word.startswith("sha256:")
        )
        _run(docker, "image", "rm", tag)
        manifest = httpx.get(
            f"http://{REGISTRY}/v2/{name}/manifests/{digest}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
        assert manifest.status_code == 200 and manifest.json()["config"]["digest"] == image_id

        pinned = f"{REGISTRY}/{name}@{digest}"
        _run(docker, "pull", pinned, timeout=900)
        assert _run(docker, "image", "inspect", "-f", "{{.Id}}", pinned).stdout.strip() == image_id
        labels = json.loads(_run(docker, "image", "inspect", pinned).stdout)[0]["Config"]["Labels"]
        assert labels["mlops-kit.model.name"] == MODEL
    finally:
        _run(docker, "image", "rm", tag, check=False)
        if pinned:
            _run(docker, "image", "rm", pinned, check=False)
        if digest:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(f"http://{REGISTRY}/v2/{name}/manifests/{digest}", timeout=10)
