"""mlops-kit/alertmanager run the way Kubernetes runs it: read-only root filesystem, uid 10001, no capabilities, no new
privileges, and only the writable mounts images/README.md documents (tmpfs or a volume). Ports on 127.0.0.1 only.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.containers import LOCKED_DOWN, OWNED, container, published_url, wait_until_healthy

pytestmark = pytest.mark.integration

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
    with container(docker, platform_images["alertmanager"], *options) as name:
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
