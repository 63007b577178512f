"""Stack config the API server or Pulumi would refuse at `up`, refused before anything is registered, each naming its
key: one case per class of mistake (types, ranges, names after the kit's suffixes, collisions, cron, secrets, the
file itself)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from infra.config import ConfigError, load_stack_file, parse_stack_config, read_stack_file
from infra.platform import platform
from mlops_kit.paths import REPO_ROOT

SECRETS = {"postgresPassword": "x", "grafanaAdminPassword": "y"}


def _staging() -> dict[str, Any]:
    return read_stack_file(REPO_ROOT / "Pulumi.staging.yaml")


def _model(**changes: Any) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw["models"][0].update(changes)

    return edit


def _second_model(**changes: Any) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw["models"].append({**copy.deepcopy(raw["models"][0]), "strategy": "rolling", **changes})

    return edit


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda raw: raw.__setitem__(key, value)


CASES = [
    (
        "a zero quantity",
        _model(resources={"cpuRequest": "0"}),
        r"models\[0\].resources.cpuRequest: must be more than 0",
    ),
    ("a bool for a count", _model(replicas=True), r"models\[0\].replicas: must be a number, not true"),
    ("a float for a count", _model(replicas=2.5), r"models\[0\].replicas: must be a whole number"),
    ("an infinite threshold", _model(analysis={"maxP99Seconds": math.inf}), r"analysis.maxP99Seconds: .*finite"),
    ("a NaN threshold", _model(analysis={"maxErrorRate": math.nan}), r"analysis.maxErrorRate: .*finite"),
    ("a cluster namespace", _set("namespace", "kube-system"), r"mlops-kit:namespace: 'kube-system' belongs to"),
    ("the default namespace", _set("namespace", "default"), r"mlops-kit:namespace: 'default' belongs to"),
    ("a minute out of range", _set("retraining", {"schedule": "61 * * * *"}), r"schedule: minute '61': .*0-59"),
    ("a month by a wrong name", _set("retraining", {"schedule": "0 3 * foo *"}), r"month 'foo': foo is not"),
    ("a step of zero", _set("retraining", {"schedule": "*/0 * * * *"}), r"minute '\*/0': a step of 0"),
    ("a range downwards", _set("retraining", {"schedule": "0 5-3 * * *"}), r"hour '5-3': a range must go upwards"),
    ("four cron fields", _set("retraining", {"schedule": "0 3 * *"}), r"schedule: must have 5 fields"),
    ("a time zone in cron", _set("retraining", {"schedule": "TZ=UTC 0 3 * * *"}), r"timeZone"),
    ("an image ref with a space", _model(image={"ref": "r/A B"}), r"models\[0\].image.ref: must be an image ref"),
]
PLATFORM_CASES = [
    ("a name over 63 after a suffix", _model(name="m" * 58), r"models\[0\].name: the Deployment 'm{58}-stable'"),
    ("a Service name starting with a digit", _model(name="1st"), r"models\[0\].name: the Service '1st' .*DNS-1035"),
    ("a model named like a track", _second_model(name="breast-cancer-canary"),
     r"models\[1\].name: makes the Deployment 'breast-cancer-canary', which mlops-kit:models\[0\].name makes too"),
    ("a model named like a component", _second_model(name="mlflow"),
     r"models\[1\].name: makes the ServiceAccount 'mlflow', which mlops-kit:tracking makes too"),
    ("a registered name too long for its CronJob", _model(modelName="x" * 50),
     r"modelName \(its retraining CronJob\): the CronJob 'retrain-x{50}' .* more than the 52"),
    ("a registered name that is no label value", _model(modelName="Breast Cancer"), r"modelName .*'retrain-Breast Cancer'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_config_is_refused_naming_the_key(case, edit, message):
    raw = copy.deepcopy(_staging())
    edit(raw)
    with pytest.raises(ConfigError, match=message):
        parse_stack_config(raw)


@pytest.mark.parametrize(("case", "edit", "message"), PLATFORM_CASES, ids=[c[0] for c in PLATFORM_CASES])
def test_objects_the_api_server_would_refuse_are_refused_before_up(case, edit, message):
    raw = copy.deepcopy(_staging())
    edit(raw)
    cfg = parse_stack_config(raw)
    with pytest.raises(ConfigError, match=message):
        platform(cfg, SECRETS)


def test_every_stack_in_the_repo_and_the_valid_edge_cases_are_accepted():
    for stack in ("dev", "staging", "prod"):
        platform(load_stack_file(stack), SECRETS)
    raw = copy.deepcopy(_staging())
    raw["retraining"] = {"schedule": "*/15 1-5,22 1 jan-mar,dec mon-fri"}
    raw["models"][0].update(name="m" * 56, modelName="m", replicas="2")  # 63 with "-stable"; config set gives text
    platform(parse_stack_config(raw), SECRETS)
    parse_stack_config({**raw, "retraining": {"schedule": "@daily"}})


def _write(tmp_path, text: str):
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text(text)
    return path


def test_a_duplicate_key_in_the_stack_file_is_refused_as_pulumi_refuses_it(tmp_path):
    path = _write(
        tmp_path, "config:\n  mlops-kit:environment: dev\n  mlops-kit:namespace: a\n  mlops-kit:namespace: b\n"
    )
    with pytest.raises(ConfigError, match=r"duplicate key 'mlops-kit:namespace'"):
        read_stack_file(path)


def test_a_key_under_a_misspelt_namespace_is_refused_not_ignored(tmp_path):
    path = _write(tmp_path, "config:\n  mlops-kit:environment: prod\n  mlops-kti:monitoring:\n    retention: 1d\n")
    with pytest.raises(ConfigError, match=r"mlops-kti:monitoring \(did you mean mlops-kit:monitoring\?\)"):
        read_stack_file(path)
    other = _write(tmp_path, "config:\n  mlops-kit:environment: prod\n  kubernetes:context: x\n")
    assert read_stack_file(other) == {"environment": "prod"}


def test_a_secret_in_plain_text_is_refused_and_a_secure_one_kept_opaque(tmp_path):
    path = _write(tmp_path, "config:\n  mlops-kit:environment: prod\n  mlops-kit:postgresPassword: hunter2\n")
    with pytest.raises(ConfigError, match=r"mlops-kit:postgresPassword must be a secret, not plain text") as refused:
        read_stack_file(path)
    assert "hunter2" not in str(refused.value)
    secure = yaml.safe_dump(
        {"config": {"mlops-kit:environment": "prod", "mlops-kit:postgresPassword": {"secure": "AAE="}}}
    )
    assert read_stack_file(_write(tmp_path, secure))["postgresPassword"] == {"secure": "AAE="}
