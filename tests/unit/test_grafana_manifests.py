"""monitoring_manifests, Grafana's part: present only when Grafana is on, its admin password only in its Secret,
provisioned with the Prometheus datasource and every dashboard of the repo. Pure: no Pulumi, no cluster."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.config import parse_stack_config
from infra.manifests.monitoring import (
    DASHBOARDS_DIR,
    dashboard_files,
    grafana_url,
    monitoring_manifests,
    prometheus_url,
)
from tests.unit.monitoring_build import build, by_kind_name


def test_grafana_objects_only_when_grafana_is_on():
    _, without = build(grafana=False)
    assert not [m for m in without if "grafana" in m["metadata"]["name"]]
    assert not [m for m in without if m["kind"] == "Secret"]
    policy = by_kind_name(without)[("NetworkPolicy", "prometheus-ingress")]
    peers = policy["spec"]["ingress"][0]["from"]
    assert peers == [{"podSelector": {"matchLabels": {"mlops-kit.io/client-prometheus": "true"}}}]


def test_grafana_without_a_password_is_refused_with_the_config_key():
    cfg = parse_stack_config({"environment": "dev"})
    with pytest.raises(ValueError, match="mlops-kit:grafanaAdminPassword"):
        monitoring_manifests(cfg, None)


def test_password_may_be_an_opaque_deploy_time_value():
    class Secret:  # stands in for a pulumi Output: never turned into a string by the builder
        def __str__(self):
            raise AssertionError("the password was formatted into a manifest")

    cfg = parse_stack_config({"environment": "dev"})
    password = Secret()
    objects = monitoring_manifests(cfg, password)
    secret = by_kind_name(objects)[("Secret", "grafana-admin")]
    assert secret["stringData"]["admin-password"] is password


def test_grafana_is_provisioned_with_prometheus_and_every_dashboard():
    cfg, objects = build()
    index = by_kind_name(objects)
    datasources = yaml.safe_load(index[("ConfigMap", "grafana-datasources")]["data"]["prometheus.yaml"])["datasources"]
    assert datasources[0]["uid"] == "prometheus"
    assert datasources[0]["url"] == f"http://prometheus.{cfg.namespace}.svc:9090" == prometheus_url(cfg)
    provider = yaml.safe_load(index[("ConfigMap", "grafana-dashboard-provider")]["data"]["mlops-kit.yaml"])[
        "providers"
    ][0]
    mounts = {
        v["mountPath"]: v["name"]
        for v in index[("Deployment", "grafana")]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts[provider["options"]["path"]] == "dashboards"
    dashboards = index[("ConfigMap", "grafana-dashboards")]["data"]
    assert sorted(dashboards) == sorted(p.name for p in DASHBOARDS_DIR.glob("*.json"))
    assert "model-service.json" in dashboards
    assert grafana_url(cfg) == f"http://grafana.{cfg.namespace}.svc:3000"


def test_dashboards_query_the_provisioned_datasource_and_the_recorded_series():
    for name, text in dashboard_files().items():
        dashboard = json.loads(text)
        assert 36 <= dashboard["schemaVersion"] <= 41, name
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert panels, name
        for panel in panels:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, f"{name}: {panel['title']}"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus", f"{name}: {panel['title']}"
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    exprs = " ".join(
        t["expr"] for p in json.loads(dashboard_files()["model-service.json"])["panels"] for t in p.get("targets", [])
    )
    for series in ("mlops:request_rate:rate5m", "mlops:request_error_ratio:rate5m", "mlops:request_latency_p99:rate5m",
                   "mlops_predictions_total", "mlops:feature_psi:1h", "mlops:feature_out_of_range_ratio:rate15m",
                   "mlops_model_info"):  # fmt: skip
        assert series in exprs, series
