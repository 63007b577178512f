"""The local-volume provisioner's decisions, from claims and volumes as the API server returns them."""

from __future__ import annotations

from pathlib import Path

from mlops_kit.localcluster.provisioner import (
    PROVISIONED_BY,
    PROVISIONER,
    SELECTED_NODE,
    Create,
    Delete,
    plan,
    storage_class,
)

VOLUMES = Path("/cache/cluster/volumes")


def claim(phase="Pending", node="mlops-kit-node", cls="standard", uid="u1"):
    annotations = {SELECTED_NODE: node} if node else {}
    return {
        "metadata": {"name": "mlflow-data", "namespace": "mlops-dev", "uid": uid, "annotations": annotations},
        "spec": {
            "storageClassName": cls,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "2Gi"}},
        },
        "status": {"phase": phase},
    }


def volume(phase="Bound", name="pvc-u1", ours=True, policy="Delete"):
    return {
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER} if ours else {}},
        "spec": {"persistentVolumeReclaimPolicy": policy, "local": {"path": str(VOLUMES / name)}},
        "status": {"phase": phase},
    }


def test_a_waiting_claim_gets_a_local_volume_on_the_chosen_node_bound_to_it():
    [action] = plan([claim()], [], VOLUMES)
    assert isinstance(action, Create)
    spec = action.volume["spec"]
    assert action.directory == VOLUMES / "pvc-u1"
    assert spec["local"] == {"path": str(VOLUMES / "pvc-u1")}
    assert spec["capacity"] == {"storage": "2Gi"} and spec["storageClassName"] == "standard"
    terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert terms["values"] == ["mlops-kit-node"]
    assert spec["claimRef"]["uid"] == "u1" and spec["claimRef"]["namespace"] == "mlops-dev"


def test_claims_not_ours_without_a_node_or_already_served_are_left_alone():
    assert plan([claim(node=None), claim(cls="fast"), claim(phase="Bound")], [], VOLUMES) == []
    assert plan([claim()], [volume()], VOLUMES) == [], "a volume already exists for this claim"


def test_released_volumes_of_ours_are_deleted_with_their_directory_others_kept():
    actions = plan([], [volume("Released"), volume("Released", "pv-x", ours=False), volume("Bound", "pvc-u2")], VOLUMES)
    assert actions == [Delete("pvc-u1", VOLUMES / "pvc-u1")]
    assert plan([], [volume("Released", policy="Retain")], VOLUMES) == []


def test_the_storage_class_waits_for_the_first_consumer():
    sc = storage_class()
    assert sc["provisioner"] == PROVISIONER and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
