"""Pods land on the kit's local cluster's real node by default, on its fake nodes when asked, anywhere elsewhere."""

from __future__ import annotations

import pytest

from infra.config import SECRETS, ConfigError, load_stack_file, parse_stack_config
from infra.config.secrets import marker
from infra.manifests.placement import FAKE_NODE_TAINT, NODE_KIND_LABEL, POD_SPEC_PATHS
from infra.platform import platform

IMAGE = {"ref": "127.0.0.1:5000/mlops-kit/serving@sha256:" + "a" * 64}


def pod_specs(cfg):
    objects = platform(cfg, {key: marker(key) for key in SECRETS}).manifests()
    specs = {}
    for manifest in objects:
        if manifest["kind"] in POD_SPEC_PATHS:
            node = manifest
            for key in POD_SPEC_PATHS[manifest["kind"]]:
                node = node[key]
            specs[(manifest["kind"], manifest["metadata"]["name"])] = node
    return specs


def stack(**cluster):
    return parse_stack_config({"environment": "dev", "cluster": cluster, "models": [{"name": "bc", "image": IMAGE}]})


def test_every_workload_of_the_local_dev_stack_runs_on_the_real_node():
    specs = pod_specs(load_stack_file("dev"))
    assert {"Deployment", "CronJob"} <= {kind for kind, _ in specs}
    for where, spec in specs.items():
        assert spec["nodeSelector"] == {NODE_KIND_LABEL: "real"}, where
        assert "tolerations" not in spec, where


def test_fake_nodes_are_chosen_in_stack_config_and_tolerated():
    for where, spec in pod_specs(stack(context="kwok-mlops-kit", localNodes="fake")).items():
        assert spec["nodeSelector"] == {NODE_KIND_LABEL: "fake"}, where
        assert spec["tolerations"] == [
            {"key": FAKE_NODE_TAINT, "operator": "Equal", "value": "fake", "effect": "NoSchedule"}
        ], where


def test_other_clusters_schedule_as_their_owners_decided():
    for where, spec in pod_specs(stack(context="kind-kind", localNodes="fake")).items():
        assert "nodeSelector" not in spec and "tolerations" not in spec, where


def test_a_misspelt_node_kind_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"mlops-kit:cluster\.localNodes: Input should be 'real' or 'fake'"):
        stack(context="kwok-mlops-kit", localNodes="virtual")


def test_grafana_is_off_on_the_local_cluster_and_on_elsewhere():
    assert stack(context="kwok-mlops-kit").monitoring.grafana is False
    assert stack(context="kind-kind").monitoring.grafana is True


def test_grafana_asked_for_on_the_local_cluster_is_refused_with_advice():
    with pytest.raises(ConfigError, match=r"monitoring\.grafana: the kit's local cluster has no Grafana image"):
        parse_stack_config(
            {"environment": "dev", "cluster": {"context": "kwok-mlops-kit"}, "monitoring": {"grafana": True}}
        )
