"""Smoke test of the offline toolchain (tools/build-toolchain.sh) and the local cluster (mlops_kit.localcluster).

Needs the toolchain built (`make toolchain`); fails, never skips, when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlops_kit import localcluster, paths
from mlops_kit.localcluster.kwok_config import NODE_COUNT

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
CLUSTER = "mlops-kit-smoke"


def _gomod_require(mod_dir: str, module: str) -> str:
    text = (TOOLS / mod_dir / "go.mod").read_text()
    m = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.M)
    assert m, f"{module} not required in tools/{mod_dir}/go.mod"
    return m.group(1)


def _versions_env() -> dict[str, str]:
    out = {}
    for line in (TOOLS / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _run(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    out = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{out}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    b = paths.toolchain_bin()
    needed = [
        "pulumi",
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-kubernetes",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubectl",
        "etcd",
        "kwok",
        "kwokctl",
    ]
    missing = [n for n in needed if not os.access(b / n, os.X_OK)]
    if missing:
        pytest.fail(
            f"toolchain not built (missing in {b}: {', '.join(missing)}): run `make toolchain` "
            "(bash tools/build-toolchain.sh)",
            pytrace=False,
        )
    return b


def test_binaries_report_pinned_versions(bin_dir: Path) -> None:
    pulumi_v = _gomod_require("pulumi", "github.com/pulumi/pulumi/pkg/v3")
    kube_v = _gomod_require("kube", "k8s.io/kubernetes")
    etcd_v = _gomod_require("etcd", "go.etcd.io/etcd/server/v3")
    kwok_v = _gomod_require("kwok", "sigs.k8s.io/kwok")

    assert _run(str(bin_dir / "pulumi"), "version").strip() == pulumi_v
    assert _run(str(bin_dir / "pulumi-language-python"), "--version").strip() == pulumi_v.lstrip("v")
    for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert _run(str(bin_dir / b), "--version").strip() == f"Kubernetes {kube_v}"
    assert f"Client Version: {kube_v}" in _run(str(bin_dir / "kubectl"), "version", "--client")
    assert f"etcd Version: {etcd_v.lstrip('v')}" in _run(str(bin_dir / "etcd"), "--version")
    assert kwok_v in _run(str(bin_dir / "kwokctl"), "--version")
    assert kwok_v in _run(str(bin_dir / "kwok"), "--version")
    # The provider embeds its version in the schema it serves; the build stamps it into schema-embed.json.
    pk_version = _versions_env()["PK_VERSION"]
    schema = paths.toolchain_dir() / "src/pulumi-kubernetes-provider/cmd/pulumi-resource-kubernetes/schema-embed.json"
    assert json.loads(schema.read_text())["version"] == pk_version


def _kubectl(*args: str, timeout: float = 60) -> str:
    return _run(
        str(paths.toolchain_bin() / "kubectl"),
        "--kubeconfig",
        str(paths.local_kubeconfig()),
        "--context",
        paths.local_context(CLUSTER),
        *args,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def kwok_cluster(bin_dir: Path):
    st = localcluster.up(CLUSTER)
    try:
        yield st
    finally:
        localcluster.down(CLUSTER)
    assert not localcluster.status(CLUSTER).exists


def test_cluster_nodes_ready_and_up_is_idempotent(kwok_cluster: localcluster.ClusterStatus) -> None:
    assert kwok_cluster.running
    assert kwok_cluster.context == f"kwok-{CLUSTER}"
    out = _kubectl("get", "nodes", "--no-headers")
    rows = [line.split() for line in out.strip().splitlines()]
    assert len(rows) == NODE_COUNT + 1, out  # the fake nodes and the real one
    assert all(r[1] == "Ready" for r in rows), out
    t = time.monotonic()
    again = localcluster.up(CLUSTER)  # reuses the running cluster
    assert again.server == kwok_cluster.server
    assert time.monotonic() - t < 30


def test_pvc_binds_and_pod_runs(kwok_cluster: localcluster.ClusterStatus) -> None:
    manifest = textwrap.dedent("""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: smoke-data, namespace: default}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: smoke, namespace: default}
        spec:
          # On a fake node: the image does not exist, kwok only reports the pod Running.
          nodeSelector: {mlops-kit.io/node: fake}
          tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
          containers:
          - name: app
            image: example.invalid/app:1
            resources: {requests: {cpu: 500m, memory: 1Gi}}
            volumeMounts: [{name: data, mountPath: /data}]
          volumes:
          - name: data
            persistentVolumeClaim: {claimName: smoke-data}
    """)
    subprocess.run(
        [
            str(paths.toolchain_bin() / "kubectl"),
            "--kubeconfig",
            str(paths.local_kubeconfig()),
            "--context",
            paths.local_context(CLUSTER),
            "apply",
            "-f",
            "-",
        ],
        input=manifest,
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    _kubectl("wait", "--for=jsonpath={.status.phase}=Bound", "pvc/smoke-data", "--timeout=60s", timeout=90)
    _kubectl("wait", "--for=condition=Ready", "pod/smoke", "--timeout=60s", timeout=90)
    _kubectl("delete", "pod/smoke", "pvc/smoke-data", "--wait=true", "--timeout=60s", timeout=90)


def test_pulumi_up_creates_namespace(kwok_cluster: localcluster.ClusterStatus, tmp_path: Path) -> None:
    """The real CLI + Python host + kubernetes provider, with pulumi_docker installed but its plugin absent."""
    venv = Path(sys.prefix)  # the virtualenv running the tests (pulumi, pulumi_kubernetes, pulumi_docker)
    (tmp_path / "state").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        textwrap.dedent(f"""
        name: smoke
        runtime:
          name: python
          options:
            virtualenv: {venv}
    """)
    )
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent("""
        import pulumi
        import pulumi_kubernetes as k8s

        ns = k8s.core.v1.Namespace("smoke", metadata={"name": "pulumi-smoke"})
        pulumi.export("ns", ns.metadata["name"])
    """)
    )
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{paths.toolchain_bin()}{os.pathsep}{env.get('PATH', '')}",
            "PULUMI_HOME": str(tmp_path / "home"),
            "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "smoke",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "KUBECONFIG": str(paths.local_kubeconfig()),
        }
    )
    pulumi = str(paths.toolchain_bin() / "pulumi")
    _run(pulumi, "stack", "init", "dev", "--non-interactive", env=env, cwd=tmp_path)
    _run(pulumi, "config", "set", "kubernetes:context", paths.local_context(CLUSTER), env=env, cwd=tmp_path)
    _run(pulumi, "preview", "--non-interactive", env=env, cwd=tmp_path, timeout=300)
    _run(pulumi, "up", "--yes", "--non-interactive", env=env, cwd=tmp_path, timeout=300)
    assert "pulumi-smoke" in _kubectl("get", "namespace", "pulumi-smoke", "-o", "name")
    _run(pulumi, "destroy", "--yes", "--non-interactive", env=env, cwd=tmp_path, timeout=300)
