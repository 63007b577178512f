"""The platform images (postgres, prometheus, alertmanager, pause), built with `images/build.sh` and run for real the
way Kubernetes runs them: read-only root filesystem, uid 10001, no capabilities, no new privileges, and only the
writable mounts images/README.md documents (tmpfs or a volume). Ports are published on 127.0.0.1 only.

Also: `images/publish.sh` round trip through the local registry by digest, and containerd importing the pause image's
`docker save` tarball (a private containerd of the test's own, when the machine has containerd).

Needs `bash scripts/docker-engine.sh` and `bash scripts/registry.sh` (CI runs them before pytest); the images are
built here once per session (a no-op when up to date).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from infra.config import parse_stack_config
from infra.manifests.monitoring import monitoring_manifests
from tests.integration.containers import published_url, wait_until_healthy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("MLOPS_KIT_REGISTRY", "127.0.0.1:5000")
APP_UID = "10001"
LOCKED_DOWN = ["--read-only", "--user", APP_UID, "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
# A writable tmpfs owned by the image's user (docker's tmpfs is root-owned; a Kubernetes emptyDir is 0777).
OWNED = f"uid={APP_UID},gid={APP_UID}"
# Budgets: measured 258 / PROM / 167 / 1.6 MB (images/README.md); a leaked .deb or doc tree would break them.
MAX_BYTES = {"postgres": 300e6, "prometheus": 270e6, "alertmanager": 190e6, "pause": 4e6}
# The args infra/manifests (monitoring) passes to Prometheus, with its mount points.
PROMETHEUS_ARGS = [
    "--config.file=/etc/prometheus/config/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--storage.tsdb.retention.time=7d",
    "--web.listen-address=:9090",
]


def _run(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} -> exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _running(docker: str, name: str) -> bool:
    return _run(docker, "inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip() == "true"


def _poll(check: Callable[[], bool], alive: Callable[[], bool], timeout: float) -> str | None:
    """Call `check` until it is true (None); else why not: what was waited on is gone, or the timeout ran out."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return None
        if not alive():
            return "exited before it was ready"
        if time.monotonic() > deadline:
            return f"not ready within {timeout:.0f} s"
        time.sleep(0.3)


def _wait(docker: str, name: str, check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll `check` until true; fail with the container's log tail when it exits first or never gets there."""
    problem = _poll(check, lambda: _running(docker, name), timeout)
    if problem:
        logs = _run(docker, "logs", "--tail", "60", name, check=False)
        pytest.fail(f"{name}: {what}: {problem}\n{logs.stdout}{logs.stderr}")


@contextlib.contextmanager
def _container(docker: str, image: str, *options: str, args: tuple[str, ...] = ()) -> Iterator[str]:
    name = f"mlops-kit-test-{image.split('/')[-1].split(':')[0]}-{uuid.uuid4().hex[:8]}"
    _run(docker, "run", "-d", "--name", name, *options, image, *args)
    try:
        yield name
    finally:
        _run(docker, "rm", "-f", "-v", name, check=False)


def _build(name: str) -> str:
    return _run("bash", str(ROOT / "images" / "build.sh"), name, timeout=1800).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def platform_images(docker: str) -> dict[str, str]:
    return {name: _build(name) for name in MAX_BYTES}


def _inspect(docker: str, ref: str) -> dict:
    return json.loads(_run(docker, "image", "inspect", ref).stdout)[0]


# ---- every image ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAX_BYTES))
def test_image_metadata(docker: str, platform_images: dict[str, str], name: str):
    info = _inspect(docker, platform_images[name])
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
    info = _inspect(docker, platform_images[name])
    base = _inspect(docker, "mlops-kit/base:bookworm")
    assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"], "FROM the kit's base, then one layer"
    leftovers = _run(
        docker, "run", "--rm", "--network", "none", "--entrypoint", "sh", platform_images[name], "-c",
        "for p in /debs /install-debs.sh /usr/sbin/policy-rc.d /var/cache/apt/archives/*.deb; do"
        " [ -e $p ] && echo $p; done;"
        " find /usr/share/doc -type f ! -name copyright; find /usr/share/man /usr/share/info -type f; true",
    ).stdout  # fmt: skip
    assert leftovers == "", f"build leftovers, docs or man pages in the image:\n{leftovers}"
    packages = info["Config"]["Labels"]["mlops-kit.debian.packages"]
    assert re.fullmatch(r"[a-z0-9.+-]+=[0-9][^ ]*", packages), packages


# ---- postgres ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres(docker: str, platform_images: dict[str, str]):
    """PostgreSQL as tracking.py runs it: env of the StatefulSet, PGDATA a subdirectory of the data volume."""
    image = platform_images["postgres"]
    volume = f"mlops-kit-test-pgdata-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    _run(docker, "volume", "create", volume)
    options = [
        *LOCKED_DOWN,
        "-v", f"{volume}:/var/lib/postgresql/data",
        "--tmpfs", f"/var/run/postgresql:{OWNED}",
        "--tmpfs", "/tmp",
        "-e", "POSTGRES_USER=mlflow", "-e", "POSTGRES_DB=mlflow", "-e", f"POSTGRES_PASSWORD={password}",
        "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
        "-p", "127.0.0.1::5432",
    ]  # fmt: skip
    try:
        with _container(docker, image, *options) as name:
            _wait_for_postgres(docker, name)
            published, _ = published_url(docker, name, 5432)
            yield {"name": name, "image": image, "password": password, "published": published}
    finally:
        _run(docker, "volume", "rm", "-f", volume, check=False)


def _wait_for_postgres(docker: str, name: str) -> None:
    # Over TCP: during initialisation a private server listens on the socket only, so TCP means the real one.
    def ready() -> bool:
        return _run(docker, "exec", name, "pg_isready", "-h", "127.0.0.1", "-q", check=False).returncode == 0

    _wait(docker, name, ready, "PostgreSQL not accepting TCP connections")


def _psql(docker: str, postgres: dict, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """A client in a container of its own, through the published loopback port with a password (never the socket)."""
    host, port = postgres["published"].rsplit(":", 1)
    return _run(
        docker, "run", "--rm", *LOCKED_DOWN, "--network", "host",
        "-e", f"PGPASSWORD={password or postgres['password']}", "--entrypoint", "psql", postgres["image"],
        "-h", host, "-p", port, "-U", "mlflow", "-d", "mlflow", "-v", "ON_ERROR_STOP=1", "-tAc", sql,
        check=False,
    )  # fmt: skip


def test_postgres_published_on_loopback_only(postgres):
    assert postgres["published"].startswith("127.0.0.1:")


def test_postgres_password_login_and_query(docker: str, postgres):
    done = _psql(docker, postgres, "select current_user, current_database(), 6 * 7")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "mlflow|mlflow|42"
    done = _psql(docker, postgres, "create table t (x int); insert into t values (1), (2); select sum(x) from t")
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "3", done.stdout + done.stderr


def test_postgres_rejects_a_wrong_password(docker: str, postgres):
    done = _psql(docker, postgres, "select 1", password="not-the-password")
    assert done.returncode != 0
    assert 'password authentication failed for user "mlflow"' in done.stderr


def test_postgres_probe_and_processes(docker: str, postgres):
    # The StatefulSet's readiness probe, word for word; pg_isready is the real binary (PATH), not Debian's wrapper.
    assert _run(docker, "exec", postgres["name"], "pg_isready", "-U", "mlflow", "-d", "mlflow").returncode == 0
    assert _run(docker, "exec", postgres["name"], "sh", "-c", "command -v pg_isready").stdout.strip() == (
        "/usr/lib/postgresql/15/bin/pg_isready"
    )
    top = _run(docker, "top", postgres["name"], "-o", "pid,uid,args").stdout.strip().splitlines()[1:]
    assert len(top) > 3 and {line.split()[1] for line in top} == {APP_UID}, top  # postmaster + its workers


def test_postgres_restart_keeps_data_and_stops_fast(docker: str, postgres):
    assert _psql(docker, postgres, "create table kept (x int); insert into kept values (7)").returncode == 0
    _run(docker, "restart", "-t", "30", postgres["name"])
    logs = _run(docker, "logs", postgres["name"]).stderr
    # STOPSIGNAL SIGINT = fast shutdown (SIGTERM would wait for every client to disconnect).
    assert "received fast shutdown request" in logs
    assert logs.count("initialising") == 1, "an initialised data directory is used as it is"
    _wait_for_postgres(docker, postgres["name"])
    postgres["published"] = published_url(docker, postgres["name"], 5432)[0]  # restart may change the port
    done = _psql(docker, postgres, "select x from kept")
    assert done.returncode == 0 and done.stdout.strip() == "7", done.stdout + done.stderr


def test_postgres_refuses_an_empty_data_dir_without_password(docker: str, platform_images: dict[str, str]):
    done = _run(
        docker, "run", "--rm", *LOCKED_DOWN, "--network", "none",
        "--tmpfs", f"/var/lib/postgresql/data:{OWNED}", "--tmpfs", f"/var/run/postgresql:{OWNED}",
        platform_images["postgres"], check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD is not set" in done.stderr


# ---- prometheus ----------------------------------------------------------------------------------------------------

TEST_RULES = """groups:
- name: image-test
  interval: 1s
  rules:
  - record: mlops_kit_image_test:answer
    expr: vector(42)
"""


@pytest.fixture(scope="module")
def prometheus(docker: str, platform_images: dict[str, str], tmp_path_factory):
    """Prometheus with the manifest's args and mounts: config and the repo's rule files read-only, TSDB on tmpfs."""
    config, rules = tmp_path_factory.mktemp("prometheus-config"), tmp_path_factory.mktemp("prometheus-rules")
    (config / "prometheus.yml").write_text(
        "global: {scrape_interval: 5s, evaluation_interval: 5s}\n"
        "rule_files: [/etc/prometheus/rules/*.yaml]\n"
        "scrape_configs: [{job_name: self, static_configs: [{targets: ['127.0.0.1:9090']}]}]\n"
    )
    repo_rules = sorted((ROOT / "infra" / "monitoring" / "rules").glob("*.yaml"))
    for path in repo_rules:
        shutil.copy(path, rules / path.name)
    (rules / "image-test.yaml").write_text(TEST_RULES)
    for d in (config, rules):  # readable by uid 10001 through the bind mount
        d.chmod(0o755)
        for f in d.iterdir():
            f.chmod(0o644)
    options = [
        *LOCKED_DOWN,
        "-v", f"{config}:/etc/prometheus/config:ro",
        "-v", f"{rules}:/etc/prometheus/rules:ro",
        "--tmpfs", f"/prometheus:{OWNED}",
        "-p", "127.0.0.1::9090",
    ]  # fmt: skip
    with _container(docker, platform_images["prometheus"], *options, args=tuple(PROMETHEUS_ARGS)) as name:
        published, url = published_url(docker, name, 9090)
        wait_until_healthy(docker, name, f"{url}/-/ready", timeout=60)
        yield {"name": name, "url": url, "published": published, "rule_files": [p.name for p in repo_rules]}


def test_prometheus_is_the_pinned_build_with_kubernetes_discovery(
    docker: str, platform_images: dict[str, str], tmp_path
):
    """The stack's own rendered prometheus.yml (pod discovery through the Kubernetes API) is valid for the image's
    promtool; Debian's 2.42 refused it ("field kubernetes_sd_configs not found") and crash-looped in the cluster."""
    cfg = parse_stack_config({"environment": "dev"})
    (config_map,) = [m for m in monitoring_manifests(cfg, "pw") if m["metadata"]["name"] == "prometheus-config"]
    rendered = yaml.safe_load(config_map["data"]["prometheus.yml"])
    assert rendered["scrape_configs"][0]["kubernetes_sd_configs"], "the stack discovers pods through the API"
    rendered.pop("rule_files", None)  # the rule files are checked by tests/integration/test_prometheus_rules.py
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(rendered))
    tmp_path.chmod(0o755)
    (tmp_path / "prometheus.yml").chmod(0o644)
    image = platform_images["prometheus"]
    version = (ROOT / "images" / "prometheus" / "VERSION").read_text().strip()
    assert image.endswith(f":{version}")
    out = _run(docker, "run", "--rm", "--network", "none", *LOCKED_DOWN, "-v", f"{tmp_path}:/cfg:ro",
               "--entrypoint", "/usr/bin/promtool", image, "check", "config", "/cfg/prometheus.yml")  # fmt: skip
    assert "SUCCESS" in out.stdout + out.stderr
    said = _run(docker, "run", "--rm", "--network", "none", image, "--version").stdout
    assert said.startswith(f"prometheus, version {version} "), said


def test_prometheus_ready_and_healthy(prometheus):
    assert prometheus["published"].startswith("127.0.0.1:")
    assert httpx.get(f"{prometheus['url']}/-/ready", timeout=5).status_code == 200
    assert httpx.get(f"{prometheus['url']}/-/healthy", timeout=5).status_code == 200


def test_prometheus_loads_every_rule_file(prometheus):
    groups = httpx.get(f"{prometheus['url']}/api/v1/rules", timeout=5).json()["data"]["groups"]
    files = {Path(g["file"]).name for g in groups}
    assert files == {*prometheus["rule_files"], "image-test.yaml"}, files
    assert prometheus["rule_files"], "the repo has rule files (infra/monitoring/rules)"


def test_prometheus_evaluates_a_recording_rule(docker: str, prometheus):
    def answer() -> bool:
        query = {"query": "mlops_kit_image_test:answer"}
        result = httpx.get(f"{prometheus['url']}/api/v1/query", params=query, timeout=5).json()["data"]["result"]
        return bool(result) and result[0]["value"][1] == "42"

    _wait(docker, prometheus["name"], answer, "recording rule never evaluated", timeout=30)


def test_prometheus_writes_only_its_volume(docker: str, prometheus):
    # The TSDB lives on the tmpfs; the root filesystem refuses writes.
    assert _run(docker, "exec", prometheus["name"], "sh", "-c", "ls /prometheus").stdout.split()
    denied = _run(docker, "exec", prometheus["name"], "sh", "-c", "touch /etc/prometheus/x", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr


# ---- alertmanager --------------------------------------------------------------------------------------------------

ALERTMANAGER_CONFIG = """route:
  receiver: blackhole
  group_by: [alertname]
receivers:
- name: blackhole
"""


@pytest.fixture(scope="module")
def alertmanager(docker: str, platform_images: dict[str, str], tmp_path_factory):
    """Alertmanager with its config as a mounted file and its state on tmpfs; default args (no gossip cluster)."""
    config = tmp_path_factory.mktemp("alertmanager-config")
    (config / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
    config.chmod(0o755)
    (config / "alertmanager.yml").chmod(0o644)
    options = [
        *LOCKED_DOWN,
        "-v", f"{config}:/etc/alertmanager:ro",
        "--tmpfs", f"/alertmanager:{OWNED}",
        "-p", "127.0.0.1::9093",
    ]  # fmt: skip
    with _container(docker, platform_images["alertmanager"], *options) as name:
        published, url = published_url(docker, name, 9093)
        wait_until_healthy(docker, name, f"{url}/-/ready", timeout=60)
        yield {"name": name, "url": url, "published": published}


def test_alertmanager_ready_with_the_mounted_config(alertmanager):
    assert alertmanager["published"].startswith("127.0.0.1:")
    assert httpx.get(f"{alertmanager['url']}/-/ready", timeout=5).status_code == 200
    status = httpx.get(f"{alertmanager['url']}/api/v2/status", timeout=5).json()
    assert "blackhole" in status["config"]["original"]
    assert status["cluster"]["status"] == "disabled"


def test_alertmanager_takes_alerts_and_silences(alertmanager):
    url = alertmanager["url"]
    alert = [{"labels": {"alertname": "ImageTest", "severity": "none"}, "annotations": {"summary": "test"}}]
    assert httpx.post(f"{url}/api/v2/alerts", json=alert, timeout=5).status_code == 200
    names = [a["labels"]["alertname"] for a in httpx.get(f"{url}/api/v2/alerts", timeout=5).json()]
    assert "ImageTest" in names
    silence = {
        "matchers": [{"name": "alertname", "value": "ImageTest", "isRegex": False}],
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test", "comment": "image test",
    }  # fmt: skip
    created = httpx.post(f"{url}/api/v2/silences", json=silence, timeout=5)
    assert created.status_code == 200 and created.json()["silenceID"]


# ---- pause ---------------------------------------------------------------------------------------------------------


def test_pause_is_one_layer_with_only_the_binary(docker: str, platform_images: dict[str, str], tmp_path: Path):
    archive = tmp_path / "pause.tar"
    _run(docker, "save", "-o", str(archive), platform_images["pause"])
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        assert len(manifest) == 1 and len(manifest[0]["Layers"]) == 1, manifest
        with tarfile.open(fileobj=outer.extractfile(manifest[0]["Layers"][0])) as layer:
            assert layer.getnames() == ["pause"]
            assert layer.getmember("pause").mode & 0o111
    assert _inspect(docker, platform_images["pause"])["Config"]["Entrypoint"] == ["/pause"]


def test_pause_runs_and_exits_0_on_sigterm(docker: str, platform_images: dict[str, str]):
    with _container(docker, platform_images["pause"], *LOCKED_DOWN, "--network", "none") as name:
        assert _running(docker, name)
        _run(docker, "kill", "-s", "TERM", name)
        # `docker wait` returns the exit code once it stopped; 0 = it exited by itself (not killed: 137).
        assert _run(docker, "wait", name, timeout=10).stdout.strip() == "0"


def test_pause_reaches_containerd_by_tarball_and_by_digest(
    docker: str, platform_images: dict[str, str], tmp_path: Path
):
    containerd, ctr = shutil.which("containerd"), shutil.which("ctr")
    if not containerd or not ctr:
        pytest.skip("no containerd/ctr on this machine (Debian's containerd package)")
    tarball = tmp_path / "images" / "pause.tar"
    published = _run("bash", str(ROOT / "images" / "publish.sh"), "--save", str(tarball.parent), "pause", timeout=300)
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
            return sock.exists() and _run(ctr, "--address", str(sock), "version", check=False).returncode == 0

        problem = _poll(answers, lambda: proc.poll() is None, timeout=30)
        assert problem is None, f"containerd: {problem}\n{(tmp_path / 'containerd.log').read_text()[-3000:]}"
        _run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "import", str(tarball))
        refs = _run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "ls", "-q").stdout.split()
        tag = platform_images["pause"].split(":")[-1]
        assert f"{REGISTRY}/mlops-kit/pause:{tag}" in refs, refs
        # The other way onto a node: pull by the published digest from the plain-HTTP local registry.
        pinned = published.stdout.split()[1]
        _run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "pull", "--plain-http", pinned, timeout=120)
        assert pinned in _run(ctr, "--address", str(sock), "-n", "k8s.io", "images", "ls", "-q").stdout.split()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


# ---- publishing ----------------------------------------------------------------------------------------------------

PUBLISHED = re.compile(
    rf"^(?P<name>[a-z0-9-]+) (?P<repo>{re.escape(REGISTRY)}/mlops-kit/[a-z0-9-]+)@(?P<digest>sha256:[0-9a-f]{{64}})$"
)


def test_publish_round_trip_by_digest(docker: str, platform_images: dict[str, str]):
    names = ["pause", "alertmanager"]
    first = _run("bash", str(ROOT / "images" / "publish.sh"), *names, timeout=900)
    lines = first.stdout.strip().splitlines()
    assert [PUBLISHED.match(line)["name"] for line in lines] == names, first.stdout
    again = _run("bash", str(ROOT / "images" / "publish.sh"), *names, timeout=300)
    assert again.stdout == first.stdout, "idempotent: same digests"
    assert again.stderr.count("[publish] up to date:") == len(names), again.stderr

    for line in lines:
        match = PUBLISHED.match(line)
        image_id = _inspect(docker, platform_images[match["name"]])["Id"]
        manifest = httpx.get(
            f"http://{REGISTRY}/v2/mlops-kit/{match['name']}/manifests/{match['digest']}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            timeout=10,
        )
        assert manifest.status_code == 200 and manifest.headers["Docker-Content-Digest"] == match["digest"]
        assert manifest.json()["config"]["digest"] == image_id
        pinned = f"{match['repo']}@{match['digest']}"
        try:
            _run(docker, "pull", pinned, timeout=600)
            assert _inspect(docker, pinned)["Id"] == image_id
        finally:
            _run(docker, "image", "rm", pinned, check=False)  # the digest reference only; the image keeps its tag
