"""mlops-kit/postgres run the way Kubernetes runs it: read-only root filesystem, uid 10001, no capabilities, no new
privileges, and only the writable mounts images/README.md documents (tmpfs or a volume). Ports on 127.0.0.1 only.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid

import pytest

from tests.integration.containers import APP_UID, LOCKED_DOWN, OWNED, container, published_url, run, wait_for

pytestmark = pytest.mark.integration

# ---- postgres ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres(docker: str, platform_images: dict[str, str]):
    """PostgreSQL as tracking.py runs it: env of the StatefulSet, PGDATA a subdirectory of the data volume."""
    image = platform_images["postgres"]
    volume = f"mlops-kit-test-pgdata-{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    run(docker, "volume", "create", volume)
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
        with container(docker, image, *options) as name:
            _wait_for_postgres(docker, name)
            published, _ = published_url(docker, name, 5432)
            yield {"name": name, "image": image, "password": password, "published": published}
    finally:
        run(docker, "volume", "rm", "-f", volume, check=False)


def _wait_for_postgres(docker: str, name: str) -> None:
    # Over TCP: during initialisation a private server listens on the socket only, so TCP means the real one.
    def ready() -> bool:
        return run(docker, "exec", name, "pg_isready", "-h", "127.0.0.1", "-q", check=False).returncode == 0

    wait_for(docker, name, ready, "PostgreSQL not accepting TCP connections")


def _psql(docker: str, postgres: dict, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """A client in a container of its own, through the published loopback port with a password (never the socket)."""
    host, port = postgres["published"].rsplit(":", 1)
    return run(
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
    assert run(docker, "exec", postgres["name"], "pg_isready", "-U", "mlflow", "-d", "mlflow").returncode == 0
    assert run(docker, "exec", postgres["name"], "sh", "-c", "command -v pg_isready").stdout.strip() == (
        "/usr/lib/postgresql/15/bin/pg_isready"
    )
    top = run(docker, "top", postgres["name"], "-o", "pid,uid,args").stdout.strip().splitlines()[1:]
    assert len(top) > 3 and {line.split()[1] for line in top} == {APP_UID}, top  # postmaster + its workers


def test_postgres_restart_keeps_data_and_stops_fast(docker: str, postgres):
    assert _psql(docker, postgres, "create table kept (x int); insert into kept values (7)").returncode == 0
    run(docker, "restart", "-t", "30", postgres["name"])
    logs = run(docker, "logs", postgres["name"]).stderr
    # STOPSIGNAL SIGINT = fast shutdown (SIGTERM would wait for every client to disconnect).
    assert "received fast shutdown request" in logs
    assert logs.count("initialising") == 1, "an initialised data directory is used as it is"
    _wait_for_postgres(docker, postgres["name"])
    postgres["published"] = published_url(docker, postgres["name"], 5432)[0]  # restart may change the port
    done = _psql(docker, postgres, "select x from kept")
    assert done.returncode == 0 and done.stdout.strip() == "7", done.stdout + done.stderr


def test_postgres_refuses_an_empty_data_dir_without_password(docker: str, platform_images: dict[str, str]):
    done = run(
        docker, "run", "--rm", *LOCKED_DOWN, "--network", "none",
        "--tmpfs", f"/var/lib/postgresql/data:{OWNED}", "--tmpfs", f"/var/run/postgresql:{OWNED}",
        platform_images["postgres"], check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD is not set" in done.stderr
