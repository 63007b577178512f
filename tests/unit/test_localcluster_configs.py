"""The rendered configurations of the real node and its control plane carry the settings measured on this machine."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from mlops_kit.localcluster import addons, cni, containerd, images, kube_proxy, kubelet, kwok_config
from mlops_kit.localcluster.layout import PAUSE_IMAGE, Layout
from mlops_kit.localcluster.status import NodeStatus, node_statuses

CRI = "io.containerd.grpc.v1.cri"


@pytest.fixture
def lay(tmp_path: Path) -> Layout:
    return Layout.for_cluster("mlops-kit-e2e", cache=tmp_path)


def test_containerd_is_private_and_carries_the_required_settings(lay):
    conf = tomllib.loads(containerd.config_toml(lay))
    assert conf["root"] == str(lay.containerd_root) and conf["state"] == str(lay.containerd_state)
    assert conf["grpc"]["address"] == str(lay.containerd_socket)
    cri = conf["plugins"][CRI]
    assert cri["restrict_oom_score_adj"] is True  # without it every sandbox fails here (no CAP_SYS_RESOURCE)
    assert cri["netns_mounts_under_state_dir"] is True
    assert cri["sandbox_image"] == PAUSE_IMAGE
    runc = cri["containerd"]["runtimes"]["runc"]["options"]
    assert runc["SystemdCgroup"] is False and runc["Root"] == str(lay.runc_root)
    assert cri["cni"]["bin_dir"] == str(lay.cni_bin_dir) and cri["cni"]["conf_dir"] == str(lay.cni_conf_dir)
    assert "io.containerd.internal.v1.opt" in conf["disabled_plugins"]  # it would write /opt/containerd


def test_the_local_registry_is_plain_http_and_mirrors_the_public_ones():
    own = tomllib.loads(containerd.hosts_toml("127.0.0.1:5000"))
    assert own["server"] == "http://127.0.0.1:5000"
    mirror = tomllib.loads(containerd.hosts_toml("127.0.0.1:5000", upstream="docker.io"))
    assert mirror["host"]["http://127.0.0.1:5000"]["capabilities"] == ["pull", "resolve"]


def test_cni_bridge_has_the_node_ip_no_masquerade_and_hairpin(lay):
    (plugin,) = cni.conflist(lay)["plugins"]
    assert plugin["type"] == "bridge" and plugin["bridge"] == lay.bridge
    assert plugin["ipMasq"] is False and plugin["hairpinMode"] is True and plugin["isGateway"] is True
    assert plugin["ipam"]["ranges"] == [[{"subnet": str(lay.pod_cidr), "gateway": lay.node_ip}]]
    assert plugin["ipam"]["dataDir"] == str(lay.cni_ipam_dir)  # not /var/lib/cni


def test_the_bridge_plugin_runs_inside_the_node_namespace(lay):
    wrapper = cni.bridge_wrapper(lay)
    assert f"nsenter --net={lay.netns_path}" in wrapper and wrapper.startswith("#!/bin/sh")


def test_kubelet_configuration(lay):
    ca = Path("/pki/ca.crt")
    conf = kubelet.configuration(lay, ca=ca, serving_crt=Path("/s.crt"), serving_key=Path("/s.key"))
    assert conf["failCgroupV1"] is False and conf["cgroupDriver"] == "cgroupfs"
    assert conf["cgroupRoot"] == lay.cgroup_root
    assert conf["authentication"]["x509"]["clientCAFile"] == str(ca)
    assert conf["authentication"]["anonymous"]["enabled"] is False and conf["authorization"]["mode"] == "Webhook"
    assert conf["clusterDNS"] == [lay.node_ip]
    assert conf["containerRuntimeEndpoint"] == f"unix://{lay.containerd_socket}"
    assert conf["podLogsDir"].startswith(str(lay.data_dir))


def test_kubelet_labels_the_node_real(lay):
    argv = kubelet.argv(lay, Path("/bin/kubelet"), Path("/k.conf"))
    assert f"--node-ip={lay.node_ip}" in argv and f"--hostname-override={lay.node_name}" in argv
    assert any(a.startswith("--node-labels=") and "mlops-kit.io/node=real" in a for a in argv)


def test_kube_proxy_iptables_on_the_node_ip_leaving_conntrack_alone(lay):
    conf = kube_proxy.configuration(lay, Path("/kp.conf"))
    assert conf["mode"] == "iptables"
    assert conf["nodePortAddresses"] == [f"{lay.node_ip}/32"]
    assert conf["conntrack"]["maxPerCore"] == 0 and conf["conntrack"]["min"] == 0


def _patch(conf: dict, component: str) -> dict[str, dict]:
    (patch,) = [p for p in conf["componentsPatches"] if p["name"] == component]
    return {a["key"]: a for a in patch["extraArgs"]}


def test_kwokctl_configuration_leaves_the_real_node_to_its_kubelet(lay):
    conf = kwok_config.kwokctl_configuration(lay)
    kwok = _patch(conf, "kwok-controller")
    assert kwok["manage-all-nodes"] == {"key": "manage-all-nodes", "value": "false", "override": True}
    assert kwok["manage-nodes-with-annotation-selector"]["value"] == "kwok.x-k8s.io/node=fake"


def test_kwokctl_configuration_gives_the_apiserver_what_the_node_and_metrics_need(lay):
    conf = kwok_config.kwokctl_configuration(lay, port=6443)
    api = {k: a["value"] for k, a in _patch(conf, "kube-apiserver").items()}
    assert api["service-cluster-ip-range"] == str(lay.service_cidr)
    assert api["kubelet-preferred-address-types"] == "InternalIP"
    assert api["kubelet-client-certificate"].endswith("pki/admin.crt")
    assert api["requestheader-client-ca-file"].endswith("pki/ca.crt")
    assert api["enable-aggregator-routing"] == "true"
    assert lay.host_ip in conf["options"]["kubeApiserverCertSANs"]
    assert conf["options"]["kubeApiserverPort"] == 6443
    assert all(str(v).startswith("/") for k, v in conf["options"].items() if k.endswith("Binary"))  # never a URL


def test_fake_nodes_are_tainted_so_workloads_land_on_the_real_node():
    node = kwok_config.fake_node(0)
    assert node["spec"]["taints"] == [{"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}]
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_metrics_api_points_at_the_node_ip(lay):
    objs = {o["kind"]: o for o in addons.metrics_api_objects(lay)}
    assert objs["APIService"]["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert objs["Endpoints"]["subsets"][0]["addresses"] == [{"ip": lay.node_ip}]
    assert objs["APIService"]["spec"]["service"]["name"] == objs["Service"]["metadata"]["name"]
    assert "selector" not in objs["Service"]["spec"]
    json.loads(addons.metrics_api_manifest(lay))


def test_coredns_serves_cluster_local_on_the_node_ip(lay):
    text = addons.corefile(lay, Path("/admin.conf"))
    assert f"bind {lay.node_ip}" in text and "kubernetes cluster.local" in text and "kubeconfig /admin.conf" in text


def test_pause_archive_is_a_one_layer_docker_archive():
    data = images.single_binary_archive(b"\x7fELF fake", name=PAUSE_IMAGE)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        (manifest,) = json.loads(tar.extractfile("manifest.json").read())
        assert manifest["RepoTags"] == [PAUSE_IMAGE] and len(manifest["Layers"]) == 1
        config = json.loads(tar.extractfile(manifest["Config"]).read())
        layer = tar.extractfile(manifest["Layers"][0]).read()
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        member = inner.getmember("pause")
        assert member.mode == 0o755
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]


def test_status_tells_real_from_fake_nodes():
    items = [
        {"metadata": {"name": "kwok-node-0", "annotations": {"kwok.x-k8s.io/node": "fake"},
                      "labels": {"mlops-kit.io/node": "fake"}},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        {"metadata": {"name": "mlops-kit-node", "labels": {"mlops-kit.io/node": "real"}},
         "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
    ]  # fmt: skip
    got = node_statuses(items)
    assert got[0] == NodeStatus("mlops-kit-node", ready=False, real=True)
    assert got[1] == NodeStatus("kwok-node-0", ready=True, real=False)


def test_yaml_configs_round_trip(lay, tmp_path):
    lay.config_dir.mkdir(parents=True)
    path = kube_proxy.install(lay, tmp_path / "kp.conf")
    assert yaml.safe_load(path.read_text())["kind"] == "KubeProxyConfiguration"
