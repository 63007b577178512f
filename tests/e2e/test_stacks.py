"""preview / up / idempotence / update / refresh / destroy / protection / unreachable cluster, with the real engine.

kwok's control plane (API server, controllers, scheduler) is real and its nodes are simulated: pods are scheduled and
become Ready, no container runs. Pulumi's await logic is fully active (no skipAwait): `up` returns only once every
Deployment is Available and every workload's pods are Ready.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from pulumi import automation as auto

from infra.config import load_stack_file
from mlops_kit import paths
from mlops_kit.render import stack_manifests

pytestmark = pytest.mark.e2e

# The stack itself, the Kubernetes provider and the five platform components come on top of the Kubernetes objects.
NON_OBJECT_RESOURCES = 1 + 1 + 5


def expected_objects(stack: str) -> int:
    return len(stack_manifests(load_stack_file(stack)))


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_preview_plans_every_object(runner, name):
    stack = runner.select(name)
    result = stack.preview(on_output=runner.printer, color="never")
    assert result.change_summary.get("create") == expected_objects(name) + NON_OBJECT_RESOURCES, "".join(
        runner.log[-50:]
    )


def test_dev_up_is_ready_idempotent_updatable_and_destroyable(runner, kubectl, kube_context):
    stack = runner.select("dev")
    namespace = load_stack_file("dev").namespace
    up = stack.up(on_output=runner.printer, color="never")
    assert up.summary.result == "succeeded"
    outputs = {k: v.value for k, v in stack.outputs().items()}
    assert outputs["namespace"] == namespace
    assert outputs["mlflowUrl"] == f"http://mlflow.{namespace}.svc:5000"
    assert outputs["models"]["breast-cancer"]["image"].endswith("serving:breast-cancer-1")

    deployments = kubectl("-n", namespace, "get", "deployments")["items"]
    assert {d["metadata"]["name"] for d in deployments} >= {
        "mlflow",
        "prometheus",
        "breast-cancer",
    }  # no Grafana on the local cluster
    for deployment in deployments:
        conditions = {c["type"]: c["status"] for c in deployment["status"].get("conditions", [])}
        assert conditions.get("Available") == "True", deployment["metadata"]["name"]
    claims = kubectl("-n", namespace, "get", "pvc")["items"]
    assert claims and all(c["status"]["phase"] == "Bound" for c in claims)

    again = stack.up(on_output=runner.printer, color="never")
    assert set(again.summary.resource_changes) == {"same"}, again.summary.resource_changes

    stack.set_config("models[0].replicas", auto.ConfigValue("2"), path=True)
    changed = stack.preview(on_output=runner.printer, color="never")
    assert changed.change_summary.get("update") == 1, changed.change_summary
    stack.up(on_output=runner.printer, color="never")
    [server] = [
        d for d in kubectl("-n", namespace, "get", "deployments")["items"] if d["metadata"]["name"] == "breast-cancer"
    ]
    assert server["spec"]["replicas"] == 2 and server["status"].get("readyReplicas") == 2

    refreshed = stack.refresh(on_output=runner.printer, color="never")
    assert set(refreshed.summary.resource_changes) <= {"same"}, refreshed.summary.resource_changes
    after_refresh = stack.preview(on_output=runner.printer, color="never")
    assert set(after_refresh.change_summary) == {"same"}, after_refresh.change_summary

    stack.destroy(on_output=runner.printer, color="never")
    assert stack.export_stack().deployment.get("resources") in (None, [])
    remaining = subprocess.run(
        ["kubectl", "--kubeconfig", str(paths.local_kubeconfig()), "--context", kube_context, "get", "namespace", namespace],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert remaining.returncode != 0 or '"Terminating"' in remaining.stdout


def test_prod_refuses_to_destroy_protected_state(runner):
    stack = runner.select("prod")
    stack.up(on_output=runner.printer, color="never")
    with pytest.raises(auto.CommandError, match="protected"):
        stack.destroy(on_output=runner.printer, color="never")
    # Clean up deliberately: unprotecting is an explicit act, which is the point of protection.
    subprocess.run(
        ["pulumi", "state", "unprotect", "--all", "--yes", "-s", "prod", "--cwd", str(runner.project)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    stack.destroy(on_output=runner.printer, color="never")


def test_unreachable_context_fails_fast_and_creates_nothing(runner, kube_context):
    stack = runner.select("staging")
    stack.set_config("cluster", auto.ConfigValue('{"context": "no-such-cluster"}'))
    try:
        with pytest.raises(auto.CommandError) as info:
            stack.preview(on_output=runner.printer, color="never")
        assert "kubeconfig context 'no-such-cluster'" in str(info.value)
        assert stack.export_stack().deployment.get("resources") in (None, [])
    finally:
        stack.set_config("cluster", auto.ConfigValue(json.dumps({"context": kube_context})))
