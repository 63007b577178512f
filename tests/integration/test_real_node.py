"""The local cluster's real node, end to end: `up` from nothing under a cluster name of its own, a pod from a local
image Running, `kubectl logs/exec`, a Service's ClusterIP answering from the host, cluster DNS, node metrics through
the aggregated API, `up` repairing a dead containerd, and `down` leaving nothing behind.

Needs root and the toolchain (`make toolchain`): fails with that advice, never skips. Traffic goes only to the kit's
own node, pod and Service addresses. No timed assertions: waits are generous and durations are printed.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mlops_kit import localcluster, paths
from mlops_kit.localcluster import containerd, host, images, node, processes
from mlops_kit.localcluster.layout import PAUSE_IMAGE, Layout

pytestmark = pytest.mark.integration

NAME = "mlops-kit-realnode"
WEB_IMAGE = "127.0.0.1:5000/mlops-kit/test-web:1"  # the toolchain's CoreDNS as a one-binary image (health = HTTP)


def _kubectl(*args: str, stdin: str | None = None, timeout: float = 120, check: bool = True):
    done = subprocess.run(
        [str(paths.tool("kubectl")), "--kubeconfig", str(paths.local_kubeconfig()), "--context",
         paths.local_context(NAME), *args],
        input=stdin, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def _host_state(layout: Layout) -> dict:
    """What of the host a node could change, filtered to what could be the kit's (other work on this machine adds
    and removes docker veths, routes and chains meanwhile)."""
    chains = {}
    for table in ("filter", "nat", "mangle", "raw"):
        out = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
        chains[table] = sorted(
            line.split()[0] for line in out.splitlines() if line.startswith((":KUBE-", ":CNI-"))
        )  # fmt: skip
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    netns = Path("/run/netns")
    return {
        "sysctls": host.read_sysctls(),
        "kube_and_cni_chains": chains,
        "links": sorted(n for n in names if n.startswith(("mk", "cni"))),  # the kit's veth/bridge names
        "routes": sorted(r for r in host.host_routes() if any(str(c) in r for c in layout.ranges)),
        "netns": sorted(p.name for p in netns.iterdir()) if netns.is_dir() else [],
        "fixed_paths": {str(p): p.exists() for p in host.FIXED_PATHS},
    }


@pytest.fixture(scope="module")
def layout() -> Layout:
    if os.geteuid() != 0:
        pytest.fail("the real node needs root: run the integration layer as root", pytrace=False)
    return Layout.for_cluster(NAME)


@pytest.fixture(scope="module")
def before(layout) -> dict:
    localcluster.down(NAME)  # a leftover of an interrupted run
    return _host_state(layout)


@pytest.fixture(scope="module")
def cluster(layout, before):
    started = time.monotonic()
    state = localcluster.up(NAME)
    print(f"\ncluster up from nothing to node Ready: {time.monotonic() - started:.1f} s")
    yield state
    localcluster.down(NAME)


def test_the_real_node_is_ready_beside_tainted_fake_nodes(cluster, layout):
    real = [n for n in cluster.nodes if n.real]
    assert [n.name for n in real] == [layout.node_name] and real[0].ready, cluster.nodes
    assert sum(1 for n in cluster.nodes if not n.real and n.ready) == 3, cluster.nodes
    assert all(cluster.components.values()), cluster.components
    taints = json.loads(_kubectl("get", "node", "kwok-node-0", "-o", "json").stdout)["spec"]["taints"]
    assert {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"} in taints


def _pod(name: str, image: str, **spec) -> dict:
    container = {"name": "main", "image": image, "imagePullPolicy": "Never", **spec.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 1, **spec},
    }


def test_a_pod_from_the_pause_image_runs_and_answers_exec(cluster, layout):
    started = time.monotonic()
    _kubectl("apply", "-f", "-", stdin=json.dumps(_pod("sleeper", PAUSE_IMAGE)))
    _kubectl("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s", timeout=150)
    print(f"\npod create to Ready: {time.monotonic() - started:.1f} s")
    pod = json.loads(_kubectl("get", "pod", "sleeper", "-o", "json").stdout)
    assert pod["spec"]["nodeName"] == layout.node_name  # not a fake node: the taint keeps it off them
    assert pod["status"]["podIP"].startswith(str(layout.pod_cidr).rsplit(".", 2)[0])
    assert _kubectl("exec", "sleeper", "--", "/pause", "--version").stdout.strip() == "pause 1.0.0"


def test_kubectl_logs_of_a_finished_container(cluster):
    _kubectl("apply", "-f", "-", stdin=json.dumps(
        _pod("version", PAUSE_IMAGE, restartPolicy="Never", container={"args": ["--version"]})))  # fmt: skip
    _kubectl("wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/version", "--timeout=120s", timeout=150)
    assert _kubectl("logs", "version").stdout.strip() == "pause 1.0.0"


def test_a_claim_gets_a_local_volume_owned_by_the_pods_group(cluster, layout):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}  # fmt: skip
    pod = _pod("writer", PAUSE_IMAGE, securityContext={"runAsUser": 65534, "fsGroup": 2345},
               volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
               container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]})  # fmt: skip
    _kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [claim, pod]}))
    _kubectl("wait", "--for=condition=Ready", "pod/writer", "--timeout=120s", timeout=150)
    pv = json.loads(_kubectl("get", "pvc", "data", "-o", "json").stdout)["spec"]["volumeName"]
    path = Path(json.loads(_kubectl("get", "pv", pv, "-o", "json").stdout)["spec"]["local"]["path"])
    assert layout.data_dir in path.parents  # the node's own directory: `down` removes it
    assert path.stat().st_gid == 2345  # the kubelet applied fsGroup: a non-root pod can write its claim


@pytest.fixture(scope="module")
def web(cluster, layout):
    archive = layout.data_dir / "test-web.tar"
    archive.write_bytes(images.single_binary_archive(paths.tool("coredns").read_bytes(), name=WEB_IMAGE,
                                                     entrypoint="/coredns"))  # fmt: skip
    images.import_archive(layout, archive)
    corefile = ".:1053 {\n    whoami\n    health :8081\n}\n"
    objects = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "default"},
         "data": {"Corefile": corefile}},
        _pod("web", WEB_IMAGE, volumes=[{"name": "conf", "configMap": {"name": "web"}}],
             container={"args": ["-conf", "/etc/coredns/Corefile"],
                        "volumeMounts": [{"name": "conf", "mountPath": "/etc/coredns"}],
                        "readinessProbe": {"httpGet": {"path": "/health", "port": 8081}, "periodSeconds": 1}}),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8081}]}},
    ]  # fmt: skip
    _kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    _kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=120s", timeout=150)
    return json.loads(_kubectl("get", "service", "web", "-o", "json").stdout)["spec"]["clusterIP"]


def test_a_service_cluster_ip_answers_from_the_host(web, layout):
    assert web.startswith(str(layout.service_cidr).rsplit(".", 1)[0])

    def answers() -> bool:
        try:
            return httpx.get(f"http://{web}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert processes.wait_for(answers, timeout=60), f"http://{web}/health never answered"


def _dns_a(server: str, name: str) -> list[str]:
    """One A query over UDP (no resolver library in the venv): the answers' addresses."""
    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question, (server, 53))
        reply = s.recv(4096)
    count = struct.unpack("!H", reply[6:8])[0]
    pos, out = 12 + len(question), []
    for _ in range(count):
        while reply[pos] and reply[pos] < 0xC0:  # the owner name: labels, ended by a zero or a compression pointer
            pos += reply[pos] + 1
        pos += 2 if reply[pos] >= 0xC0 else 1
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", reply[pos : pos + 10])
        pos += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(reply[pos : pos + length]))
        pos += length
    return out


def test_cluster_dns_resolves_services_on_the_node_ip(web, layout):
    def resolves(name: str, want: str):
        return processes.wait_for(lambda: _dns_a(layout.node_ip, name) == [want], timeout=30)

    assert resolves("kubernetes.default.svc.cluster.local", layout.kubernetes_service_ip)
    assert resolves("web.default.svc.cluster.local", web)


def test_node_metrics_come_from_the_real_kubelet(cluster, layout):
    def usage():
        done = _kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/nodes/{layout.node_name}", check=False)
        return json.loads(done.stdout)["usage"] if done.returncode == 0 else None

    got = processes.wait_for(usage, timeout=120, interval=2)
    assert got and got["cpu"] and got["memory"], "metrics-server never reported the real node"


IN_CLUSTER = """
apiVersion: v1
kind: ConfigMap
metadata: {name: incluster, namespace: default}
data:
  Corefile: |
    .:1053 {
        kubernetes cluster.local
        ready :8181
    }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: realnode-test-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: default, namespace: default}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: incluster, namespace: default}
spec:
  selector: {matchLabels: {app: incluster}}
  template:
    metadata: {labels: {app: incluster}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes: [{name: conf, configMap: {name: incluster}}]
      containers:
      - name: main
        image: %s
        imagePullPolicy: Never
        args: ["-conf", "/etc/coredns/Corefile"]
        volumeMounts: [{name: conf, mountPath: /etc/coredns}]
        readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 1}
        resources: {requests: {cpu: 50m, memory: 32Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: incluster, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: incluster}
  minReplicas: 1
  maxReplicas: 2
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
"""


def test_pods_reach_the_api_server_and_the_hpa_sees_real_cpu(web, layout):
    """CoreDNS in a pod with in-cluster config: Ready only once it lists Services through the `kubernetes` Service
    (ClusterIP -> API server on the host, its certificate names the ClusterIP, service-account token, RBAC)."""
    _kubectl("apply", "-f", "-", stdin=IN_CLUSTER % WEB_IMAGE)
    _kubectl("wait", "--for=condition=Ready", "pod", "-l", "app=incluster", "--timeout=120s", timeout=150)

    def current_cpu():
        hpa = json.loads(_kubectl("get", "hpa", "incluster", "-o", "json").stdout)
        for metric in hpa.get("status", {}).get("currentMetrics") or []:
            if metric.get("resource", {}).get("name") == "cpu":
                return metric["resource"]["current"].get("averageUtilization") is not None
        return False

    assert processes.wait_for(current_cpu, timeout=180, interval=3), "the HPA never got the pods' CPU"
    _kubectl("delete", "clusterrolebinding", "realnode-test-view")


def test_up_is_idempotent_and_repairs_a_dead_containerd(cluster, layout):
    spec = node.specs(layout)["containerd"].component
    pid = processes.running_pid(layout, spec)
    processes.stop(layout, spec)
    state = localcluster.up(NAME)
    assert processes.running_pid(layout, spec) not in (None, pid)
    assert state.real_node_ready and all(state.components.values())
    assert processes.run(containerd.ctr(layout, "version"), what="ctr").returncode == 0
    _kubectl("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=60s", timeout=90)


def test_down_leaves_nothing_behind(cluster, layout, before):
    localcluster.down(NAME)
    assert host.leftovers(layout) == []
    after = _host_state(layout)
    assert after == before
    assert not localcluster.status(NAME).exists
    assert not any(
        os.readlink(p).startswith(str(layout.pod_logs_dir))
        for p in host.CONTAINER_LOG_LINKS.glob("*")
        if p.is_symlink()
    )
