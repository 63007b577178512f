"""Every object of every committed stack: valid Kubernetes (strict schema, oldest and newest supported versions) and
secure by default (each container non-root, no escalation, capabilities dropped, limits, probes)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from infra.config import load_stack_file, parse_stack_config
from infra.config.secrets import marker as secret_marker
from mlops_kit.render import stack_manifests

KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
STACKS = ("dev", "staging", "prod")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "CronJob"}


def objects(stack):
    return stack_manifests(load_stack_file(stack))


def object_ids(stack):
    return [f"{m['kind']}/{m['metadata']['name']}" for m in objects(stack)]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_every_object_validates_strictly(stack, version):
    problems = []
    for manifest in objects(stack):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message}")
    assert not problems, "\n".join(problems)


def pod_specs(stack):
    for manifest in objects(stack):
        if manifest["kind"] in WORKLOAD_KINDS:
            template = (
                manifest["spec"]["template"]
                if manifest["kind"] != "CronJob"
                else manifest["spec"]["jobTemplate"]["spec"]["template"]
            )
            yield f"{manifest['kind']}/{manifest['metadata']['name']}", template["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_is_locked_down(stack):
    problems = []
    for where, pod in pod_specs(stack):
        if pod["securityContext"].get("runAsNonRoot") is not True:
            problems.append(f"{where}: pod may run as root")
        if pod["securityContext"].get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        for container in pod["containers"] + pod.get("initContainers", []):
            name = f"{where}/{container['name']}"
            security = container.get("securityContext", {})
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{name}: privilege escalation allowed")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{name}: capabilities not dropped")
            if security.get("privileged"):
                problems.append(f"{name}: privileged")
            limits = container.get("resources", {}).get("limits", {})
            requests = container.get("resources", {}).get("requests", {})
            if not {"cpu", "memory"} <= limits.keys() or not {"cpu", "memory"} <= requests.keys():
                problems.append(f"{name}: missing cpu/memory requests or limits")
            if "CronJob" not in where and ("readinessProbe" not in container or "livenessProbe" not in container):
                problems.append(f"{name}: missing readiness or liveness probe")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_model_servers_have_read_only_root_and_scrape_annotations(stack):
    for where, pod in pod_specs(stack):
        if not where.startswith("Deployment/breast-cancer"):
            continue
        [container] = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"


@pytest.mark.parametrize("stack", STACKS)
def test_namespace_enforces_restricted_and_denies_by_default(stack):
    manifests = objects(stack)
    namespace = next(m for m in manifests if m["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deny = next(m for m in manifests if m["metadata"]["name"] == "default-deny-all")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    kinds = {m["kind"] for m in manifests}
    assert {"ResourceQuota", "LimitRange"} <= kinds


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_is_selected_by_an_ingress_policy(stack):
    """A default-deny namespace with no allow for a server would make it unreachable: each server needs one."""
    manifests = objects(stack)
    policies = [
        m["spec"]["podSelector"].get("matchLabels", {})
        for m in manifests
        if m["kind"] == "NetworkPolicy" and "ingress" in m["spec"]
    ]
    for manifest in manifests:
        if manifest["kind"] not in {
            "Deployment",
            "StatefulSet",
        }:  # batch jobs serve nothing: deny-all is right for them
            continue
        pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
        assert any(sel and sel.items() <= pod_labels.items() for sel in policies), (
            f"{manifest['metadata']['name']} has no ingress allow"
        )


def test_secrets_never_appear_outside_secret_objects():
    for stack in STACKS:
        for manifest in objects(stack):
            if manifest["kind"] == "Secret":
                continue
            text = repr(manifest)
            assert "<pulumi secret" not in text, (
                f"{stack}: {manifest['kind']}/{manifest['metadata']['name']} holds a secret"
            )


def test_mlflow_allows_its_in_cluster_host_names():
    [deployment] = [m for m in objects("staging") if m["kind"] == "Deployment" and m["metadata"]["name"] == "mlflow"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    hosts = args[args.index("--allowed-hosts") + 1].split(",")
    assert {"mlflow", "mlflow:5000", "mlflow.mlops-staging.svc:5000"} <= set(hosts)
    assert "$(POSTGRES_PASSWORD)" in args[args.index("--backend-store-uri") + 1]


def test_disabled_parts_render_nothing():
    cfg = parse_stack_config({"environment": "dev", "tracking": {"enabled": False}, "monitoring": {"enabled": False}})
    kinds = {m["kind"] for m in stack_manifests(cfg)}
    assert kinds == {"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange"}


def test_secret_marker_names_the_pulumi_key():
    assert secret_marker("postgresPassword") == "<pulumi secret mlops-kit:postgresPassword>"


def test_retraining_cronjob_reaches_mlflow_and_never_overlaps():
    [cronjob] = [m for m in objects("prod") if m["kind"] == "CronJob"]
    assert cronjob["metadata"]["name"] == "retrain-breast-cancer"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["mlops-kit.io/client-mlflow"] == "true"
    [container] = pod["spec"]["containers"]
    assert container["args"][:3] == ["train", "--model-name", "breast-cancer"]
    assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow.mlops-prod.svc:5000"} in container["env"]


def test_retraining_can_be_switched_off():
    cfg = parse_stack_config(
        {"environment": "dev", "retraining": {"enabled": False}, "models": [{"name": "bc", "image": {"ref": "r/s:1"}}]}
    )
    assert not [m for m in stack_manifests(cfg) if m["kind"] == "CronJob"]


def test_bad_cron_schedule_names_the_key():
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=r"mlops-kit:retraining\.schedule"):
        parse_stack_config({"environment": "dev", "retraining": {"schedule": "every monday"}})


@pytest.mark.parametrize(("configured", "window"), [({}, 300), ({"scaleDownStabilizationSeconds": 30}, 30)])
def test_autoscaler_scales_down_after_the_configured_window(configured, window):
    model = {"name": "bc", "image": {"ref": "r/s:1"}, "autoscaling": {"enabled": True, "maxReplicas": 3, **configured}}
    cfg = parse_stack_config({"environment": "dev", "models": [model]})
    [hpa] = [m for m in stack_manifests(cfg) if m["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == window
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
