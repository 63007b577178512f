"""mlops-kit/prometheus run the way Kubernetes runs it: read-only root filesystem, uid 10001, no capabilities, no new
privileges, and only the writable mounts images/README.md documents (tmpfs or a volume). Ports on 127.0.0.1 only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
import yaml

from infra.config import parse_stack_config
from infra.manifests.monitoring import monitoring_manifests
from tests.integration.containers import (
    LOCKED_DOWN,
    OWNED,
    ROOT,
    container,
    published_url,
    run,
    wait_for,
    wait_until_healthy,
)

pytestmark = pytest.mark.integration

# The args infra/manifests (monitoring) passes to Prometheus, with its mount points.
PROMETHEUS_ARGS = [
    "--config.file=/etc/prometheus/config/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--storage.tsdb.retention.time=7d",
    "--web.listen-address=:9090",
]


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
    with container(docker, platform_images["prometheus"], *options, args=tuple(PROMETHEUS_ARGS)) as name:
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
    out = run(docker, "run", "--rm", "--network", "none", *LOCKED_DOWN, "-v", f"{tmp_path}:/cfg:ro",
               "--entrypoint", "/usr/bin/promtool", image, "check", "config", "/cfg/prometheus.yml")  # fmt: skip
    assert "SUCCESS" in out.stdout + out.stderr
    said = run(docker, "run", "--rm", "--network", "none", image, "--version").stdout
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

    wait_for(docker, prometheus["name"], answer, "recording rule never evaluated", timeout=30)


def test_prometheus_writes_only_its_volume(docker: str, prometheus):
    # The TSDB lives on the tmpfs; the root filesystem refuses writes.
    assert run(docker, "exec", prometheus["name"], "sh", "-c", "ls /prometheus").stdout.split()
    denied = run(docker, "exec", prometheus["name"], "sh", "-c", "touch /etc/prometheus/x", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
