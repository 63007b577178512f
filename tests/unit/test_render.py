"""`mlops-kit render`: the offline review copy of a stack, through the real CLI entry point."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from mlops_kit.cli import app

runner = CliRunner()


def test_render_writes_one_valid_file_per_object(tmp_path):
    result = runner.invoke(app, ["render", "-s", "prod", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "prod").rglob("*.yaml"))
    kinds = {yaml.safe_load(f.read_text())["kind"] for f in files}
    assert {"Namespace", "Deployment", "StatefulSet", "Service", "NetworkPolicy", "HorizontalPodAutoscaler"} <= kinds
    assert "valid for Kubernetes 1.29.0,1.37.0" in result.output
    assert (tmp_path / "prod" / "mlops-prod" / "deployment-breast-cancer-blue.yaml").is_file()
    secret = yaml.safe_load((tmp_path / "prod" / "mlops-prod" / "secret-mlflow-postgres.yaml").read_text())
    assert secret["stringData"]["password"] == "<pulumi secret mlops-kit:postgresPassword>"


def test_render_of_unknown_stack_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["render", "-s", "qa", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "Pulumi.qa.yaml not found" in result.output


def test_render_of_invalid_stack_names_the_key(tmp_path):
    (tmp_path / "Pulumi.broken.yaml").write_text(
        "config:\n  mlops-kit:environment: dev\n  mlops-kit:namespace: Bad_NS\n"
    )
    from infra.config import ConfigError, load_stack_file

    with pytest.raises(ConfigError, match="mlops-kit:namespace: must be a DNS label"):
        load_stack_file("broken", tmp_path)


def test_unknown_stack_is_refused_before_the_engine_runs():
    result = runner.invoke(app, ["up", "-s", "qa"])
    assert result.exit_code == 2
    assert "Pulumi.qa.yaml not found" in result.output
    assert "stacks with a config file: dev, prod, staging" in result.output


def test_serve_without_a_tracking_server_is_advice_not_a_traceback():
    result = runner.invoke(app, ["serve", "--tracking-uri", "http://127.0.0.1:9", "--port", "3999"])
    assert result.exit_code == 1
    assert "MLflow tracking server http://127.0.0.1:9 is not reachable" in result.output


def test_serve_rejects_a_model_uri_that_is_nothing():
    result = runner.invoke(app, ["serve", "--model-uri", "/no/such/model"])
    assert result.exit_code == 2
    assert "--model-uri '/no/such/model'" in result.output
