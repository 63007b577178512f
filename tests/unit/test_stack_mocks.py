"""Every component and environment under Pulumi mocks: what the program registers for each committed stack."""

from __future__ import annotations

import pulumi
import pytest

from infra.config import load_stack_file, parse_stack_config
from infra.program import build_stack

SECRETS = {"postgresPassword": pulumi.Output.secret("pg-pw"), "grafanaAdminPassword": pulumi.Output.secret("gf-pw")}


def deploy(cfg):
    exported = {}

    @pulumi.runtime.test
    def program():
        outputs = build_stack(cfg, SECRETS)

        def keep(values):
            exported.update(dict(zip(["namespace", "mlflow", "prometheus", "grafana", "models"], values, strict=True)))

        return pulumi.Output.all(
            outputs["namespace"],
            outputs["mlflowUrl"],
            outputs["prometheusUrl"],
            outputs["grafanaUrl"],
            outputs["models"],
        ).apply(keep)

    program()
    return exported


def names(mocks, kind):
    return sorted(c.name for c in mocks.of_kind(kind))


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_each_environment_registers_every_component(mocks, stack):
    cfg = load_stack_file(stack)
    exported = deploy(cfg)
    components = {c.typ for c in mocks.created if c.typ.startswith("mlops-kit:")}
    assert components == {
        "mlops-kit:platform:Namespace",
        "mlops-kit:platform:Tracking",
        "mlops-kit:platform:Monitoring",
        "mlops-kit:platform:ModelService",
        "mlops-kit:platform:Retraining",
    }
    assert exported["namespace"] == cfg.namespace
    assert exported["mlflow"] == f"http://mlflow.{cfg.namespace}.svc:5000"
    assert exported["prometheus"].startswith("http://prometheus.")
    model = exported["models"]["breast-cancer"]
    assert model["image"] == cfg.models[0].image.ref
    assert model["modelVersion"] == "1"
    assert names(mocks, "Namespace") == [f"namespace-{cfg.namespace}"]


def test_dev_uses_sqlite_and_rolling(mocks):
    exported = deploy(load_stack_file("dev"))
    assert "stateful-set-mlflow-postgres" not in names(mocks, "StatefulSet")
    assert names(mocks, "Deployment").count("deployment-breast-cancer") == 1
    assert exported["models"]["breast-cancer"]["rollout"] == {"strategy": "rolling", "replicas": 1}


def test_staging_runs_postgres_and_a_canary(mocks):
    exported = deploy(load_stack_file("staging"))
    assert names(mocks, "StatefulSet") == ["stateful-set-mlflow-postgres"]
    assert {"deployment-breast-cancer-stable", "deployment-breast-cancer-canary"} <= set(names(mocks, "Deployment"))
    assert exported["models"]["breast-cancer"]["rollout"]["strategy"] == "canary"
    [secret] = [c for c in mocks.of_kind("Secret") if c.name == "secret-mlflow-postgres"]
    # The engine receives the password wrapped as a secret (Pulumi's secret signature), so state stores it encrypted.
    wrapped = secret.inputs["stringData"]
    assert wrapped["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    assert wrapped["value"] == {"password": "pg-pw"}


def test_prod_is_blue_green_with_preview_service(mocks):
    exported = deploy(load_stack_file("prod"))
    assert {"service-breast-cancer", "service-breast-cancer-preview"} <= set(names(mocks, "Service"))
    assert exported["models"]["breast-cancer"]["rollout"]["activeColor"] == "blue"


def test_default_build_context_is_the_staged_one(monkeypatch):
    from infra.config import ImageBuild

    monkeypatch.setenv("MLOPS_KIT_CACHE", "/cache")
    assert ImageBuild().resolved_context() == "/cache/build/serving-context"
    assert ImageBuild().resolved_dockerfile() == "/cache/build/serving-context/Dockerfile"


def test_built_image_is_referenced_by_digest(mocks):
    cfg = parse_stack_config(
        {
            "environment": "dev",
            "models": [{"name": "bc", "modelVersion": "3", "image": {"build": {"context": "/tmp/serving-context"}}}],
        }
    )
    exported = deploy(cfg)
    [image] = mocks.of_kind("Image")
    assert image.inputs["imageName"] == "127.0.0.1:5000/mlops-kit/serving:bc-3"
    assert image.inputs["build"]["context"] == "/tmp/serving-context"
    assert image.inputs["build"]["dockerfile"] == "/tmp/serving-context/Dockerfile"
    assert exported["models"]["bc"]["image"] == f"127.0.0.1:5000/mlops-kit/serving@sha256:{'ab' * 32}"
    [deployment] = [c for c in mocks.of_kind("Deployment") if c.name == "deployment-bc"]
    assert deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"].endswith("@sha256:" + "ab" * 32)


@pytest.mark.parametrize(("stack", "protected"), [("prod", True), ("staging", False), ("dev", False)])
def test_stateful_resources_are_protected_and_retained_only_in_prod(mocks, monkeypatch, stack, protected):
    from infra.components import base
    from infra.components.tracking import Tracking
    from infra.platform import platform

    seen = {}

    class Spy:
        """Stands in for the PVC/StatefulSet classes to capture the options they would be created with."""

        def __init__(self, name, opts=None, **_):
            seen[name] = (opts.protect, opts.retain_on_delete)

    monkeypatch.setitem(base.RESOURCE_CLASSES, ("v1", "PersistentVolumeClaim"), Spy)
    monkeypatch.setitem(base.RESOURCE_CLASSES, ("apps/v1", "StatefulSet"), Spy)

    @pulumi.runtime.test
    def program():
        cfg = load_stack_file(stack)
        parts = platform(cfg, SECRETS)
        Tracking("tracking", parts.tracking, parts.urls["mlflow"], cfg.protect_stateful)

    program()
    assert seen["persistent-volume-claim-mlflow-data"] == (protected, protected)
    if stack != "dev":
        assert seen["stateful-set-mlflow-postgres"] == (protected, protected)
