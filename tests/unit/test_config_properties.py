"""Property-based: every generated valid stack config renders to objects that pass Kubernetes' strict schema, and
every generated config with one mistake in it is refused naming the key of that mistake."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import ConfigError, parse_stack_config
from infra.platform import platform

SECRETS = {"postgresPassword": "x", "grafanaAdminPassword": "y"}
KUBERNETES = "1.37.0"

names = st.from_regex(r"\A[a-z][a-z0-9]{0,14}(-[a-z0-9]{1,10})?\Z")
cron_minute = st.sampled_from(["0", "*/15", "5,35", "0-30/10", "*"])
cron_hour = st.sampled_from(["3", "*", "1-5", "22", "*/6"])
cron_day = st.sampled_from(["*", "1", "1-15"])
cron_month = st.sampled_from(["*", "jan", "1-6", "mar,dec"])
cron_weekday = st.sampled_from(["*", "mon", "1-5", "sun,sat", "0"])
schedules = st.one_of(
    st.builds(" ".join, st.tuples(cron_minute, cron_hour, cron_day, cron_month, cron_weekday)),
    st.sampled_from(["@daily", "@weekly", "@hourly"]),
)
cpu = st.sampled_from(["50m", "100m", "250m", "1"])
memory = st.sampled_from(["128Mi", "256Mi", "512Mi"])


@st.composite
def models(draw) -> dict[str, Any]:
    strategy = draw(st.sampled_from(["rolling", "canary", "blue-green"]))
    model: dict[str, Any] = {
        "name": draw(names),
        "image": {"ref": "127.0.0.1:5000/mlops-kit/serving@sha256:" + "a" * 64},
        "modelVersion": str(draw(st.integers(1, 999))),
        "strategy": strategy,
        "replicas": draw(st.integers(1, 4)),
        "resources": {"cpuRequest": draw(cpu), "memoryRequest": draw(memory), "cpuLimit": "2", "memoryLimit": "1Gi"},
        "autoscaling": {"enabled": draw(st.booleans()), "minReplicas": 1, "maxReplicas": draw(st.integers(1, 5))},
        "analysis": {"maxP99Seconds": draw(st.floats(0.01, 10)), "maxErrorRate": draw(st.floats(0, 1))},
    }
    if strategy == "canary":
        model["canary"] = {"steps": [draw(st.integers(1, 99)), 100]}
    return model


@st.composite
def stacks(draw) -> dict[str, Any]:
    environment = draw(st.sampled_from(["dev", "staging", "prod"]))
    served = draw(st.lists(models(), min_size=1, max_size=2, unique_by=lambda m: m["name"]))
    return {
        "environment": environment,
        "namespace": "mlops-" + draw(names),
        "retraining": {"schedule": draw(schedules)},
        "tracking": {"backend": draw(st.sampled_from(["sqlite", "postgres"]))},
        "monitoring": {"grafana": False},
        "models": served,
    }


def _collide(names_: list[str]) -> bool:
    """Two generated names whose objects would collide (`a` canary makes `a-stable`; a model may be named so)."""
    suffixes = ("", "-stable", "-canary", "-blue", "-green", "-preview")
    made = [{n + s for s in suffixes} for n in names_]
    return len(made) == 2 and bool(made[0] & made[1])


@pytest.fixture(scope="module", autouse=True)
def _schemas_read_once():
    """kubernetes-validate re-reads its (multi-megabyte) definitions file on every call; the files do not change."""
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(original)
    yield
    kubernetes_validate.utils.schema_contents = original


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_a_valid_config_renders_objects_that_pass_the_strict_schema(raw):
    if _collide([m["name"] for m in raw["models"]]) or any(len(m["name"]) > 43 for m in raw["models"]):
        return  # refused by design (test below); not a valid config
    cfg = parse_stack_config(copy.deepcopy(raw))
    for manifest in platform(cfg, SECRETS).manifests():
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


# (what is broken, how, the key the refusal must name)
MISTAKES = [
    ("replicas true", lambda r: r["models"][0].__setitem__("replicas", True), r"models\[0\]\.replicas"),
    ("replicas 0", lambda r: r["models"][0].__setitem__("replicas", 0), r"models\[0\]\.replicas"),
    ("cpu 0", lambda r: r["models"][0]["resources"].__setitem__("cpuRequest", "0"), r"models\[0\]\.resources\.cpuRequest"),
    ("p99 inf", lambda r: r["models"][0]["analysis"].__setitem__("maxP99Seconds", math.inf), r"analysis\.maxP99Seconds"),
    ("error rate 2", lambda r: r["models"][0]["analysis"].__setitem__("maxErrorRate", 2), r"analysis\.maxErrorRate"),
    ("hour 24", lambda r: r["retraining"].__setitem__("schedule", "0 24 * * *"), r"retraining\.schedule"),
    ("namespace kube-x", lambda r: r.__setitem__("namespace", "kube-x"), r"mlops-kit:namespace"),
    ("name upper case", lambda r: r["models"][0].__setitem__("name", "Model"), r"models\[0\]\.name"),
    ("unknown key", lambda r: r["models"][0].__setitem__("replica", 2), r"models\[0\]\.replica"),
    ("port 80", lambda r: r["models"][0].__setitem__("port", 80), r"models\[0\]\.port"),
    ("strategy", lambda r: r["models"][0].__setitem__("strategy", "big-bang"), r"models\[0\]\.strategy"),
    ("long after a suffix", lambda r: r["models"][0].update(name="a" * 60, modelName="a", strategy="canary"), r"models\[0\]\.name"),
]  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(), st.sampled_from(MISTAKES))
def test_one_mistake_in_any_config_is_refused_naming_its_key(raw, mistake):
    _, break_it, key = mistake
    broken = copy.deepcopy(raw)
    break_it(broken)
    with pytest.raises(ConfigError, match=key):
        platform(parse_stack_config(broken), SECRETS)
