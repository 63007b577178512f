"""Dynamic local volumes for the local cluster: the StorageClass `standard` of the kit's own provisioner.

kube-controller-manager's in-tree hostPath provisioner makes root-owned 0750 directories and hostPath volumes ignore
`fsGroup`, so the kit's non-root pods (uid 10001, 65534) could not write their PVCs on a real node. This provisioner
answers claims the way external provisioners do: the StorageClass binds `WaitForFirstConsumer`, the scheduler picks
the node and annotates the claim, and a `local` PersistentVolume is created for it — a directory of the cluster's own
on that node, with node affinity, pre-bound to the claim. Kubelet applies `fsGroup` to local volumes, so the pod's
group owns its data without any chmod. Released volumes of the Delete policy are removed with their directory.

Runs as one of the node's processes: `python -m mlops_kit.localcluster.provisioner --kubeconfig K --volumes DIR`.
`plan()` is pure (claims and volumes in, actions out) and unit-tested; `main()` only polls and applies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROVISIONER = "mlops-kit.io/local-volume"
STORAGE_CLASS = "standard"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        # The scheduler chooses the node first: a local volume can only live where its pod runs.
        "volumeBindingMode": "WaitForFirstConsumer",
    }


@dataclass(frozen=True)
class Create:
    volume: dict[str, Any]
    directory: Path


@dataclass(frozen=True)
class Delete:
    name: str
    directory: Path


def volume_name(claim: dict[str, Any]) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def volume_for(claim: dict[str, Any], volumes: Path) -> Create:
    meta, spec = claim["metadata"], claim["spec"]
    name = volume_name(claim)
    directory = volumes / name
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "local": {"path": str(directory)},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "kubernetes.io/hostname",
                                    "operator": "In",
                                    "values": [meta["annotations"][SELECTED_NODE]],
                                }
                            ]
                        }
                    ]
                }
            },
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }
    return Create(volume, directory)


def plan(claims: list[dict[str, Any]], volumes_now: list[dict[str, Any]], volumes: Path) -> list[Create | Delete]:
    """What to do now: a volume for each waiting claim of ours with a chosen node, away with each released one."""
    existing = {v["metadata"]["name"] for v in volumes_now}
    actions: list[Create | Delete] = []
    for claim in claims:
        annotations = claim["metadata"].get("annotations") or {}
        ours = claim["spec"].get("storageClassName") == STORAGE_CLASS
        waiting = (claim.get("status") or {}).get("phase") == "Pending" and SELECTED_NODE in annotations
        if ours and waiting and volume_name(claim) not in existing:
            actions.append(volume_for(claim, volumes))
    for volume in volumes_now:
        annotations = volume["metadata"].get("annotations") or {}
        released = (volume.get("status") or {}).get("phase") in ("Released", "Failed")
        deletable = volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"
        if annotations.get(PROVISIONED_BY) == PROVISIONER and released and deletable:
            actions.append(Delete(volume["metadata"]["name"], Path(volume["spec"]["local"]["path"])))
    return actions


def _kubectl(kubectl: list[str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([*kubectl, *args], input=stdin, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return done.stdout


def apply(kubectl: list[str], action: Create | Delete, volumes: Path) -> None:
    if isinstance(action, Create):
        action.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        _kubectl(kubectl, "create", "-f", "-", stdin=json.dumps(action.volume))
    else:
        if action.directory.is_relative_to(volumes):  # never remove anything outside the cluster's own directory
            shutil.rmtree(action.directory, ignore_errors=True)
        _kubectl(kubectl, "delete", "pv", action.name, "--ignore-not-found", "--wait=false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--volumes", required=True, type=Path)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    kubectl = [args.kubectl, "--kubeconfig", args.kubeconfig]
    args.volumes.mkdir(mode=0o700, parents=True, exist_ok=True)
    while True:
        try:
            claims = json.loads(_kubectl(kubectl, "get", "pvc", "-A", "-o", "json"))["items"]
            existing = json.loads(_kubectl(kubectl, "get", "pv", "-o", "json"))["items"]
            for action in plan(claims, existing, args.volumes):
                apply(kubectl, action, args.volumes)
                print(
                    f"{type(action).__name__.lower()} {getattr(action, 'name', None) or action.volume['metadata']['name']}",
                    flush=True,
                )
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            print(f"provisioner: {exc}", file=sys.stderr, flush=True)  # the API server may be restarting: poll again
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
