"""Layout: everything a local cluster uses is derived from its name, and two clusters share nothing."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mlops_kit.errors import UserError
from mlops_kit.localcluster.layout import SLOTS, Layout

USER, TESTS = "mlops-kit", "mlops-kit-e2e"
KNOWN = (USER, TESTS, "mlops-kit-smoke", "mlops-kit-bench", "mlops-kit-realnode")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path


def test_the_layout_is_a_pure_function_of_the_name(cache):
    assert Layout.for_cluster(USER, cache=cache) == Layout.for_cluster(USER, cache=cache)


def test_the_kit_user_and_test_clusters_share_no_address_name_or_directory(cache):
    a, b = Layout.for_cluster(USER, cache=cache), Layout.for_cluster(TESTS, cache=cache)
    assert not a.collides_with(b)
    for attr in ("netns", "bridge", "veth_host", "veth_node", "node_ip", "host_ip", "cgroup_root", "node_name",
                 "cni_network", "context", "data_dir", "run_dir", "containerd_socket", "runc_root", "kubelet_root"):  # fmt: skip
        assert getattr(a, attr) != getattr(b, attr), f"{attr} is shared by {USER} and {TESTS}"
    for da in a.owned_dirs():
        for db in b.owned_dirs():
            assert da not in db.parents and db not in da.parents and da != db


def test_every_cluster_name_the_kit_uses_gets_its_own_addresses(cache):
    layouts = [Layout.for_cluster(n, cache=cache) for n in KNOWN]
    for i, a in enumerate(layouts):
        for b in layouts[i + 1 :]:
            assert not a.collides_with(b), f"{a.name} and {b.name} share slot {a.slot}"


def test_addresses_fit_together(cache):
    lay = Layout.for_cluster(USER, cache=cache)
    assert ipaddress.ip_address(lay.node_ip) in lay.pod_cidr
    assert ipaddress.ip_address(lay.kubernetes_service_ip) in lay.service_cidr
    assert {ipaddress.ip_address(lay.host_ip), ipaddress.ip_address(lay.node_link_ip)} <= set(lay.link_cidr.hosts())
    assert not lay.pod_cidr.overlaps(lay.service_cidr)


@pytest.mark.parametrize("slot", [0, SLOTS - 1])
def test_interface_names_fit_the_kernel_limit(cache, slot):
    lay = Layout(name="x", slot=slot, cache=cache)
    assert max(len(lay.bridge), len(lay.veth_host), len(lay.veth_node)) <= 15


def test_the_unix_socket_path_fits_sun_path(cache):
    assert len(str(Layout.for_cluster("a" * 40, cache=cache).containerd_socket) + ".ttrpc") < 108


def test_same_slot_different_names_collide(cache):
    a, b = Layout(name="a", slot=3, cache=cache), Layout(name="b", slot=3, cache=cache)
    assert a.collides_with(b)
    assert not a.collides_with(a)


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "trail-", "under_score", "x" * 41, "dots.no"])
def test_bad_names_are_refused_with_advice(bad):
    with pytest.raises(UserError, match="not valid"):
        Layout.for_cluster(bad)
