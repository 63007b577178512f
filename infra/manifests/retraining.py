"""Retraining: a CronJob per served model that runs the training pipeline in-cluster against MLflow.

The job only registers a new version; whether it becomes `champion` is the validation gate's call, and whether it is
served is a promotion's. So a scheduled (or drift-triggered) retrain can never change what serves traffic by itself.
"""

from __future__ import annotations

from infra.config import StackConfig
from infra.manifests.common import (
    CLIENT_LABEL,
    Manifest,
    container_security,
    labels,
    metadata,
    pod_template,
    service_account,
    tmp_volume,
)
from infra.manifests.tracking import tracking_url

COMPONENT = "retraining"
TRAINING_UID = 10001


def cronjob_name(model_name: str) -> str:
    return f"retrain-{model_name}"  # ≤ 52 characters, or the stack is refused (infra/manifests/names.py)


def retraining_manifests(cfg: StackConfig) -> list[Manifest]:
    settings = cfg.retraining
    if not settings.enabled or not cfg.tracking.enabled or not cfg.models:
        return []
    ns = cfg.namespace
    own = labels(COMPONENT, "retraining")
    objects: list[Manifest] = [service_account(COMPONENT, ns, own)]
    for model_name in sorted({m.model_name for m in cfg.models}):
        pod_labels = labels(COMPONENT, cronjob_name(model_name), **{CLIENT_LABEL.format(component="mlflow"): "true"})
        container = {
            "name": "train",
            "image": settings.image,
            "imagePullPolicy": "IfNotPresent",
            "args": ["train", "--model-name", model_name, "--dataset", settings.dataset, "--json"],
            "env": [
                {"name": "MLFLOW_TRACKING_URI", "value": tracking_url(cfg)},
                {"name": "HOME", "value": "/tmp"},
            ],
            "resources": settings.resources.as_kubernetes(),
            "securityContext": container_security(read_only_root=True),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }
        objects.append(
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": metadata(cronjob_name(model_name), ns, own),
                "spec": {
                    "schedule": settings.schedule,
                    "concurrencyPolicy": "Forbid",  # two trainings of one model would race for the champion alias
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {
                        "spec": {
                            "backoffLimit": 1,
                            "activeDeadlineSeconds": 3600,
                            "ttlSecondsAfterFinished": 86400,
                            "template": pod_template(
                                pod_labels,
                                COMPONENT,
                                TRAINING_UID,
                                [container],
                                [tmp_volume(size="1Gi")],
                                fs_group=False,
                                restartPolicy="Never",
                            ),
                        }
                    },
                },
            }
        )
    return objects
