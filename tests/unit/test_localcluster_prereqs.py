"""Prerequisites of `cluster up`: each missing one is one line of advice, checked before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_kit.errors import EnvironmentProblem, UserError
from mlops_kit.localcluster import prereqs
from mlops_kit.localcluster.layout import Layout


class FakeMachine(prereqs.Machine):
    def __init__(self, **overrides) -> None:
        self.installed: list[list[str]] = []
        super().__init__(
            euid=lambda: 0,
            hierarchies=lambda: [Path("/sys/fs/cgroup") / c for c in prereqs.CGROUP_CONTROLLERS],
            exists=lambda p: True,
            executable=lambda p: True,
            routes=lambda: ["default via 192.0.2.1 dev eth0", "172.17.0.0/16 dev docker0 proto kernel scope link"],
            port_free=lambda port: True,
            apt_install=self.installed.append,
            running_clusters=lambda: [],
        )
        for k, v in overrides.items():
            setattr(self, k, v)


@pytest.fixture
def lay(tmp_path) -> Layout:
    return Layout.for_cluster("mlops-kit-e2e", cache=tmp_path)


def test_a_ready_machine_passes(lay):
    prereqs.check(lay, machine=FakeMachine())


def test_not_root(lay):
    with pytest.raises(EnvironmentProblem, match="needs root"):
        prereqs.check(lay, machine=FakeMachine(euid=lambda: 1000))


def test_no_cgroup_v1_hierarchy(lay):
    with pytest.raises(EnvironmentProblem, match=r"no cgroup v1 hierarchy for .*memory"):
        prereqs.check(lay, machine=FakeMachine(hierarchies=lambda: [Path("/sys/fs/cgroup/cpu")]))


def test_missing_packages_are_installed(lay):
    present: set[str] = set()
    m = FakeMachine(exists=lambda p: p != "/usr/lib/cni/bridge" or "cni" in present)
    m.apt_install = lambda pkgs: (m.installed.append(pkgs), present.add("cni"))
    prereqs.check(lay, machine=m)
    assert m.installed == [["containernetworking-plugins"]]


def test_packages_apt_could_not_install_are_named(lay):
    m = FakeMachine(exists=lambda p: p != "/usr/sbin/conntrack")
    with pytest.raises(EnvironmentProblem, match="apt-get install -y conntrack"):
        prereqs.check(lay, machine=m)


def test_missing_toolchain_binaries_advise_make_toolchain(lay):
    m = FakeMachine(executable=lambda p: p.name not in {"kubelet", "coredns"})
    with pytest.raises(EnvironmentProblem, match=r"lacks kubelet, coredns .*make toolchain"):
        prereqs.check(lay, machine=m)


def test_a_port_taken(lay):
    with pytest.raises(EnvironmentProblem, match=r"port 6443 .* in use"):
        prereqs.check_port(lay, 6443, machine=FakeMachine(port_free=lambda p: False))


def test_a_host_route_overlapping_the_node_ranges(lay):
    routes = lambda: [f"{lay.service_cidr.network_address}/16 dev eth1 scope link"]  # noqa: E731
    with pytest.raises(EnvironmentProblem, match="overlaps the node's range"):
        prereqs.check(lay, machine=FakeMachine(routes=routes))


def test_the_nodes_own_routes_are_not_a_clash(lay):
    routes = lambda: [f"{lay.pod_cidr} via {lay.node_link_ip} dev {lay.veth_host}"]  # noqa: E731
    prereqs.check(lay, machine=FakeMachine(routes=routes))


def test_a_name_on_the_same_addresses_as_a_running_cluster(lay, monkeypatch):
    from mlops_kit.localcluster import layout as layout_mod

    monkeypatch.setattr(layout_mod, "slot_of", lambda name: 7)
    with pytest.raises(UserError, match="same addresses as the running cluster 'other'"):
        prereqs.check(Layout.for_cluster("mine"), machine=FakeMachine(running_clusters=lambda: ["other"]))


def test_up_creates_nothing_when_a_prerequisite_is_missing(monkeypatch):
    from mlops_kit import localcluster
    from mlops_kit.localcluster import control_plane, host

    touched: list[str] = []

    def missing(layout, **_):
        raise EnvironmentProblem("the offline toolchain lacks kubelet: run `make toolchain`")

    monkeypatch.setattr(prereqs, "check", missing)
    monkeypatch.setattr(control_plane, "lock", lambda *a, **k: touched.append("lock"))
    monkeypatch.setattr(host, "prepare", lambda *a, **k: touched.append("host"))
    with pytest.raises(EnvironmentProblem, match="make toolchain"):
        localcluster.up("mlops-kit-e2e")
    assert touched == []
