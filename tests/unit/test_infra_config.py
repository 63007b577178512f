"""Invalid stack configs fail before any resource exists, with a message naming the Pulumi key and what is valid."""

from __future__ import annotations

import copy
import json

import pulumi
import pytest

from infra.config import ConfigError, load_stack_file, parse_stack_config, read_stack_file
from infra.program import run

DIGEST = "reg/serving@sha256:" + "a" * 64
MODEL = {"name": "bc", "image": {"ref": DIGEST}}


def with_model(**changes):
    model = copy.deepcopy(MODEL)
    model.update(changes)
    return {"environment": "staging", "models": [model]}


INVALID = [
    (
        "unknown environment",
        {"environment": "qa"},
        "mlops-kit:environment: must be one of dev, staging, prod (got 'qa')",
    ),
    ("missing environment", {}, "mlops-kit:environment: must be one of"),
    (
        "unknown top-level key",
        {"environment": "dev", "replicas": 3},
        "mlops-kit:replicas: Extra inputs are not permitted",
    ),
    ("bad namespace", {"environment": "dev", "namespace": "ML_Ops"}, "mlops-kit:namespace: must be a DNS label"),
    (
        "unknown strategy",
        with_model(strategy="shadow"),
        "mlops-kit:models[0].strategy: Input should be 'rolling', 'blue-green' or 'canary'",
    ),
    (
        "negative replicas",
        with_model(replicas=-1),
        "mlops-kit:models[0].replicas: Input should be greater than or equal to 1 (got -1)",
    ),
    ("replicas as text", with_model(replicas="three"), "mlops-kit:models[0].replicas: Input should be a valid integer"),
    (
        "bad cpu quantity",
        with_model(resources={"cpuRequest": "lots"}),
        "mlops-kit:models[0].resources.cpuRequest: must be a Kubernetes quantity",
    ),
    (
        "bad memory quantity",
        with_model(resources={"memoryLimit": "1 GB"}),
        "mlops-kit:models[0].resources.memoryLimit: must be a Kubernetes quantity",
    ),
    (
        "request above limit",
        with_model(resources={"cpuRequest": "2", "cpuLimit": "1"}),
        "cpuRequest 2 is larger than cpuLimit 1",
    ),
    (
        "duplicate model names",
        {"environment": "dev", "models": [MODEL, MODEL]},
        "model names must be unique; duplicated: ['bc']",
    ),
    (
        "missing model name",
        {"environment": "dev", "models": [{"image": {"ref": DIGEST}}]},
        "mlops-kit:models[0].name: Field required",
    ),
    ("missing image", {"environment": "dev", "models": [{"name": "bc"}]}, "mlops-kit:models[0].image: Field required"),
    ("image with neither source", with_model(image={}), "set exactly one of image.ref"),
    (
        "image with both sources",
        {"environment": "dev", "models": [{"name": "bc", "image": {"ref": DIGEST, "build": {}}}]},
        "set exactly one of image.ref",
    ),
    ("tag in staging", with_model(image={"ref": "reg/serving:latest"}), "staging needs an image by digest"),
    (
        "build in prod",
        {"environment": "prod", "models": [{"name": "bc", "image": {"build": {}}}]},
        "only dev builds images",
    ),
    (
        "bad image ref",
        {"environment": "dev", "models": [{"name": "bc", "image": {"ref": "Not An Image"}}]},
        "must be an image reference",
    ),
    ("unknown model key", with_model(replica=2), "mlops-kit:models[0].replica: Extra inputs are not permitted"),
    (
        "canary steps not ending at 100",
        with_model(canary={"steps": [10, 50]}),
        "must be strictly increasing and end at 100",
    ),
    (
        "canary weight over 100",
        with_model(canary={"weight": 150}),
        "mlops-kit:models[0].canary.weight: Input should be less than or equal to 100",
    ),
    (
        "unknown colour",
        with_model(blueGreen={"activeColor": "red"}),
        "mlops-kit:models[0].blueGreen.activeColor: Input should be 'blue' or 'green'",
    ),
    (
        "autoscaling min above max",
        with_model(autoscaling={"enabled": True, "minReplicas": 5, "maxReplicas": 2}),
        "minReplicas 5 is larger than maxReplicas 2",
    ),
    (
        "unknown tracking backend",
        {"environment": "dev", "tracking": {"backend": "mysql"}},
        "mlops-kit:tracking.backend: Input should be 'sqlite' or 'postgres'",
    ),
    (
        "bad retention",
        {"environment": "dev", "monitoring": {"retention": "forever"}},
        "mlops-kit:monitoring.retention: String should match pattern",
    ),
    (
        "port out of range",
        with_model(port=80),
        "mlops-kit:models[0].port: Input should be greater than or equal to 1024",
    ),
    (
        "models not a list",
        {"environment": "dev", "models": {"name": "bc"}},
        "mlops-kit:models: Input should be a valid list",
    ),
    (
        "bool as text",
        {"environment": "dev", "protectStateful": "maybe"},
        "mlops-kit:protectStateful: Input should be a valid boolean",
    ),
]


@pytest.mark.parametrize(("case", "raw", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_config_is_rejected_naming_the_key(case, raw, fragment):
    with pytest.raises(ConfigError) as info:
        parse_stack_config(raw, "Pulumi.test.yaml")
    assert fragment in str(info.value), f"{case}: {info.value}"
    assert "Pulumi.test.yaml" in str(info.value)


def test_all_problems_are_reported_at_once():
    raw = {
        "environment": "dev",
        "namespace": "Bad",
        "models": [{"name": "bc", "replicas": 0, "image": {"ref": DIGEST}}],
    }
    with pytest.raises(ConfigError) as info:
        parse_stack_config(raw)
    assert "mlops-kit:namespace" in str(info.value) and "mlops-kit:models[0].replicas" in str(info.value)


def test_engine_json_strings_are_decoded():
    cfg = parse_stack_config(
        {"environment": "dev", "models": '[{"name": "bc", "image": {"ref": "r/s:1"}}]', "protectStateful": "true"}
    )
    assert cfg.models[0].name == "bc" and cfg.protect_stateful is True


def test_environment_defaults_apply_and_can_be_overridden():
    staging = parse_stack_config({"environment": "staging", "models": [MODEL]})
    assert staging.models[0].strategy == "canary" and staging.models[0].replicas == 2
    assert staging.tracking.backend == "postgres"
    prod = parse_stack_config({"environment": "prod", "models": [dict(MODEL, strategy="rolling")]})
    assert prod.models[0].strategy == "rolling" and prod.protect_stateful is True


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_committed_stack_files_are_valid(stack):
    cfg = load_stack_file(stack)
    assert cfg.environment.value == stack
    assert cfg.models, "every committed stack serves at least one model"


def test_stack_file_keys_must_be_namespaced(tmp_path):
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  environment: dev\n")
    with pytest.raises(ConfigError, match="must be namespaced"):
        read_stack_file(tmp_path / "Pulumi.x.yaml")


@pytest.mark.parametrize(("case", "raw", "fragment"), INVALID, ids=[c[0] for c in INVALID])
def test_program_registers_nothing_for_invalid_config(mocks, case, raw, fragment):
    from pulumi.runtime.config import CONFIG

    token = CONFIG.set({f"mlops-kit:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()})
    try:

        @pulumi.runtime.test
        def program():
            run()

        with pytest.raises(pulumi.RunError) as info:
            program()
        assert fragment in str(info.value)
    finally:
        CONFIG.reset(token)
    assert mocks.created == [], (
        f"{case}: resources registered despite invalid config: {[c.name for c in mocks.created]}"
    )


def test_missing_secret_names_the_command(mocks):
    from pulumi.runtime.config import CONFIG

    token = CONFIG.set({"mlops-kit:environment": "staging"})
    try:

        @pulumi.runtime.test
        def program():
            run()

        with pytest.raises(pulumi.RunError, match="pulumi config set --secret postgresPassword <value> -s dev"):
            program()
    finally:
        CONFIG.reset(token)
    assert mocks.created == []


def test_rollout_thresholds_under_canary_say_where_they_moved():
    with pytest.raises(ConfigError, match=r"models\[0\].canary: .*maxP99Seconds moved to models\[\].analysis"):
        parse_stack_config(
            {
                "environment": "staging",
                "models": [{"name": "m", "image": {"ref": "r/s:1"}, "canary": {"maxP99Seconds": 1}}],
            }
        )
