"""One PSI threshold: drift.PSI_ALERT_THRESHOLD is the number; the alert rule and the canary's default restate it."""

import re

import yaml

from infra.config.model_service import Analysis
from infra.manifests.monitoring import rule_files
from services.monitoring.drift import PSI_ALERT_THRESHOLD


def _drift_alert() -> dict:
    groups = yaml.safe_load(rule_files()["model-service-alerts.yaml"])["groups"]
    (alert,) = [rule for group in groups for rule in group["rules"] if rule.get("alert") == "ModelFeatureDrift"]
    return alert


def test_the_drift_alert_fires_above_the_psi_threshold():
    (threshold,) = re.findall(r"mlops:feature_psi:1h > ([0-9.]+)", _drift_alert()["expr"])
    assert float(threshold) == PSI_ALERT_THRESHOLD, "ModelFeatureDrift's expr must use drift.PSI_ALERT_THRESHOLD"


def test_the_drift_alert_description_names_the_psi_threshold():
    (threshold,) = re.findall(r"PSI \{\{[^}]*\}\} > ([0-9.]+)", _drift_alert()["annotations"]["description"])
    assert float(threshold) == PSI_ALERT_THRESHOLD, "ModelFeatureDrift's description must say drift.PSI_ALERT_THRESHOLD"


def test_the_rollout_analysis_refuses_drift_above_the_psi_threshold_by_default():
    assert Analysis().max_drift_psi == PSI_ALERT_THRESHOLD, "models[].analysis.maxDriftPsi must default to it"
