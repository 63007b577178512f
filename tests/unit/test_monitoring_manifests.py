"""monitoring_manifests: the Prometheus objects (and what all monitoring objects share) are valid Kubernetes, locked
down, and built from the repo's rule files. Grafana's: test_grafana_manifests.py. Pure: no Pulumi, no cluster."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from infra.manifests.monitoring import (
    RULES_DIR,
    SCRAPE_JOB,
    rule_files,
)
from tests.unit.monitoring_build import KUBERNETES_VERSIONS, PASSWORD, build, by_kind_name, pod_specs


def test_disabled_monitoring_renders_nothing():
    _, objects = build(enabled=False)
    assert objects == []


def test_every_object_is_in_the_stack_namespace_and_labelled():
    cfg, objects = build()
    assert objects
    for m in objects:
        meta = m["metadata"]
        assert meta["namespace"] == cfg.namespace, f"{m['kind']}/{meta['name']}"
        assert meta["labels"]["app.kubernetes.io/part-of"] == "mlops-kit"
        assert meta["labels"]["app.kubernetes.io/name"] in ("prometheus", "grafana")


def test_only_the_secret_holds_the_password():
    _, objects = build()
    holders = [m for m in objects if PASSWORD in json.dumps(m)]
    assert [(m["kind"], m["metadata"]["name"]) for m in holders] == [("Secret", "grafana-admin")]
    secret = holders[0]
    assert secret["stringData"] == {"admin-user": "admin", "admin-password": PASSWORD}
    env = {
        e["name"]: e
        for e in by_kind_name(objects)[("Deployment", "grafana")]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    for name, key in (("GF_SECURITY_ADMIN_USER", "admin-user"), ("GF_SECURITY_ADMIN_PASSWORD", "admin-password")):
        assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": "grafana-admin", "key": key}}}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"]["value"] == "false"
    assert all(env[k]["value"] == "false" for k in env if k.startswith("GF_ANALYTICS_"))


def test_every_container_is_locked_down():
    _, objects = build()
    specs = dict(pod_specs(objects))
    assert set(specs) == {"prometheus", "grafana"}
    for name, pod in specs.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["runAsNonRoot"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}, where
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, where
            assert "readinessProbe" in container and "livenessProbe" in container, where
    assert specs["prometheus"]["securityContext"]["runAsUser"] == 10001
    assert specs["grafana"]["securityContext"]["runAsUser"] == 472


def test_probes_hit_the_servers_health_endpoints():
    _, objects = build()
    specs = dict(pod_specs(objects))
    prometheus = specs["prometheus"]["containers"][0]
    assert prometheus["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert prometheus["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert specs["grafana"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/api/health"


def test_only_prometheus_gets_an_api_token_and_its_role_is_namespaced():
    cfg, objects = build()
    index = by_kind_name(objects)
    specs = dict(pod_specs(objects))
    assert specs["prometheus"]["automountServiceAccountToken"] is True
    assert index[("ServiceAccount", "prometheus")]["automountServiceAccountToken"] is True
    assert specs["grafana"]["automountServiceAccountToken"] is False
    assert index[("ServiceAccount", "grafana")]["automountServiceAccountToken"] is False
    assert not [m for m in objects if m["kind"].startswith("Cluster")]
    role = index[("Role", "prometheus")]
    assert role["metadata"]["namespace"] == cfg.namespace
    granted = {
        (group, resource) for rule in role["rules"] for group in rule["apiGroups"] for resource in rule["resources"]
    }
    assert granted == {("", "pods"), ("", "services"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices")}
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in role["rules"])
    binding = index[("RoleBinding", "prometheus")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "prometheus"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": cfg.namespace}]


def test_prometheus_deployment_follows_the_stack_config():
    _, objects = build(retention="30d", storageSize="20Gi", prometheusImage="registry.local/prom/prometheus:v2.53.2")
    index = by_kind_name(objects)
    deployment = index[("Deployment", "prometheus")]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.local/prom/prometheus:v2.53.2"
    assert "--storage.tsdb.path=/prometheus" in container["args"]
    assert "--storage.tsdb.retention.time=30d" in container["args"]
    assert "--config.file=/etc/prometheus/config/prometheus.yml" in container["args"]
    claim = index[("PersistentVolumeClaim", "prometheus-data")]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert index[("Service", "prometheus")]["spec"]["ports"][0]["port"] == 9090
    assert index[("Service", "grafana")]["spec"]["ports"][0]["port"] == 3000


def test_prometheus_config_discovers_annotated_pods_of_the_namespace_only():
    cfg, objects = build(scrapeInterval="30s")
    config = yaml.safe_load(by_kind_name(objects)[("ConfigMap", "prometheus-config")]["data"]["prometheus.yml"])
    assert config["global"]["scrape_interval"] == "30s"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yaml"]
    (job,) = config["scrape_configs"]
    assert job["job_name"] == SCRAPE_JOB
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [cfg.namespace]}}]
    relabel = job["relabel_configs"]
    keep = relabel[0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "regex": "true",
        "action": "keep",
    }
    targets = {r["target_label"]: r["source_labels"] for r in relabel if "target_label" in r}
    assert targets["__metrics_path__"] == ["__meta_kubernetes_pod_annotation_prometheus_io_path"]
    assert targets["__address__"][0] == "__meta_kubernetes_pod_annotation_prometheus_io_port"
    assert targets["namespace"] == ["__meta_kubernetes_namespace"]
    assert targets["pod"] == ["__meta_kubernetes_pod_name"]
    assert targets["service"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"]
    assert targets["track"] == ["__meta_kubernetes_pod_label_mlops_kit_io_track"]
    assert targets["color"] == ["__meta_kubernetes_pod_label_mlops_kit_io_color"]


def test_rules_configmap_holds_every_rule_file_verbatim():
    _, objects = build()
    data = by_kind_name(objects)[("ConfigMap", "prometheus-rules")]["data"]
    on_disk = sorted(p.name for p in RULES_DIR.glob("*.yaml"))
    assert on_disk, "no rule files in infra/monitoring/rules"
    assert sorted(data) == on_disk
    for name in on_disk:
        assert data[name] == (RULES_DIR / name).read_text()
    records = {r.get("record") for text in data.values() for g in yaml.safe_load(text)["groups"] for r in g["rules"]}
    assert {
        "mlops:request_error_ratio:rate5m",
        "mlops:request_latency_p99:rate5m",
        "mlops:feature_psi:1h",
        "mlops:model_psi_max:1h",
    } <= records


def test_rule_or_dashboard_changes_roll_the_pods():
    _, objects = build()
    before = {name: spec for name, spec in pod_specs(objects)}
    checksums = {
        m["metadata"]["name"]: m["spec"]["template"]["metadata"]["annotations"]["mlops-kit.io/config-checksum"]
        for m in objects
        if m["kind"] == "Deployment"
    }
    assert set(checksums) == set(before)
    _, other_interval = build(scrapeInterval="1m")
    changed = {
        m["metadata"]["name"]: m["spec"]["template"]["metadata"]["annotations"]["mlops-kit.io/config-checksum"]
        for m in other_interval
        if m["kind"] == "Deployment"
    }
    assert changed["prometheus"] != checksums["prometheus"]
    assert all(PASSWORD not in value for value in checksums.values())


def test_network_policies_admit_only_labelled_clients():
    _, objects = build()
    index = by_kind_name(objects)
    prometheus = index[("NetworkPolicy", "prometheus-ingress")]["spec"]
    assert prometheus["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "prometheus"
    assert prometheus["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
    peers = [p["podSelector"]["matchLabels"] for p in prometheus["ingress"][0]["from"]]
    assert {"mlops-kit.io/client-prometheus": "true"} in peers
    grafana_pod = index[("Deployment", "grafana")]["spec"]["template"]["metadata"]["labels"]
    assert any(all(grafana_pod.get(k) == v for k, v in peer.items()) for peer in peers)
    grafana = index[("NetworkPolicy", "grafana-ingress")]["spec"]
    assert grafana["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 3000}]
    assert grafana["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"mlops-kit.io/client-grafana": "true"}}}]


def test_rule_files_reject_a_file_that_is_not_a_rule_file(tmp_path):
    (tmp_path / "broken.yaml").write_text("alert: nothing here\n")
    with pytest.raises(ValueError, match=r"broken\.yaml: a Prometheus rule file needs a top-level `groups:` list"):
        rule_files(tmp_path)
    (tmp_path / "broken.yaml").write_text("groups: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        rule_files(tmp_path)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("grafana", [True, False])
def test_every_manifest_validates_strictly(version, grafana):
    _, objects = build(grafana=grafana)
    problems = []
    for manifest in objects:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)
