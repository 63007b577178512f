import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.config import parse_stack_config
from infra.strategies import plan
from infra.strategies.base import COLOR_LABEL, TRACK_LABEL
from infra.strategies.canary import next_weight as next_canary_weight
from infra.strategies.canary import replicas as canary_replicas


def model(**changes):
    raw = {"name": "bc", "image": {"ref": "r/s:1"}, **changes}
    return parse_stack_config({"environment": "dev", "models": [raw]}).models[0]


def test_rolling_has_one_track_and_one_service():
    rollout = plan(model(replicas=3))
    assert [t.suffix for t in rollout.tracks] == [""]
    assert rollout.tracks[0].replicas == 3
    assert [r.suffix for r in rollout.routes] == [""]


def test_blue_green_main_service_selects_active_colour_and_preview_the_idle():
    rollout = plan(model(strategy="blue-green", replicas=2, blueGreen={"activeColor": "green"}))
    routes = {r.suffix: r.select for r in rollout.routes}
    assert routes == {"": {COLOR_LABEL: "green"}, "-preview": {COLOR_LABEL: "blue"}}
    tracks = {t.suffix: t for t in rollout.tracks}
    assert tracks["-green"].image_slot == "primary" and tracks["-blue"].image_slot == "candidate"
    assert tracks["-blue"].replicas == tracks["-green"].replicas == 2, "idle colour stays warm for an instant flip"


def test_blue_green_colours_autoscale_each_so_a_flip_leaves_them_alone():
    rollout = plan(model(strategy="blue-green", autoscaling={"enabled": True}))
    assert [t.suffix for t in rollout.tracks if t.autoscaled] == ["-blue", "-green"]


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [
        (4, 0, (4, 0)),
        (4, 10, (3, 1)),
        (4, 50, (2, 2)),
        (4, 100, (0, 4)),
        (10, 10, (9, 1)),
        (1, 10, (1, 1)),
        (2, 99, (1, 1)),
    ],
)
def test_canary_weight_sets_replica_split(total, weight, expected):
    assert canary_replicas(total, weight) == expected


@given(st.integers(1, 50), st.integers(0, 100))
def test_canary_split_never_loses_capacity(total, weight):
    stable, canary = canary_replicas(total, weight)
    assert stable + canary >= total
    assert (canary > 0) == (weight > 0)
    assert stable >= 1 or weight == 100


def test_canary_plan_shares_one_service_and_labels_tracks():
    rollout = plan(model(strategy="canary", replicas=4, canary={"weight": 50, "modelVersion": "7"}, modelVersion="6"))
    tracks = {t.suffix: t for t in rollout.tracks}
    assert tracks["-canary"].pod_labels == {TRACK_LABEL: "canary"}
    assert tracks["-canary"].model_version == "7" and tracks["-stable"].model_version == "6"
    assert [r.select for r in rollout.routes] == [{}]
    assert rollout.summary["effectiveWeight"] == 50


def test_next_canary_weight_walks_the_steps():
    assert next_canary_weight([10, 50, 100], 0) == 10
    assert next_canary_weight([10, 50, 100], 10) == 50
    assert next_canary_weight([10, 50, 100], 100) is None


@pytest.mark.parametrize(
    ("weight", "stable_autoscaled", "split"), [(0, True, (3, 0)), (10, False, (2, 1)), (100, False, (0, 3))]
)
def test_no_hpa_resizes_a_track_while_a_canary_runs(weight, stable_autoscaled, split):
    """The split is of the larger of replicas and minReplicas; an HPA on the stable track would change the share."""
    scaling = {"enabled": True, "minReplicas": 3, "maxReplicas": 6}
    rollout = plan(model(strategy="canary", replicas=1, autoscaling=scaling, canary={"weight": weight}))
    stable, canary = rollout.tracks
    assert (stable.autoscaled, canary.autoscaled) == (stable_autoscaled, False)
    assert (stable.replicas, canary.replicas) == (split if weight else (1, 0))
    assert rollout.summary["effectiveWeight"] == round(100 * split[1] / sum(split))
