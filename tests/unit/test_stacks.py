"""Where stacks live: tracked config stays free of secrets and salts; state belongs to the cluster."""

from __future__ import annotations

import yaml

from infra.config import parse_stack_config
from mlops_kit import stacks
from mlops_kit.paths import cluster_state_dir, local_kubeconfig, state_dir

TRACKED = {"config": {"mlops-kit:environment": "dev", "mlops-kit:namespace": "mlops-dev"}}
LOCAL = {
    "encryptionsalt": "v1:abc",
    "config": {
        "mlops-kit:grafanaAdminPassword": {"secure": "v1:xyz"},
        "mlops-kit:namespace": "stale-from-an-older-run",
    },
}


def test_workspace_file_is_tracked_config_plus_local_secrets_and_salt():
    merged = stacks.merged_stack_file(TRACKED, LOCAL)
    assert merged["encryptionsalt"] == "v1:abc"
    assert merged["config"]["mlops-kit:grafanaAdminPassword"] == {"secure": "v1:xyz"}
    assert merged["config"]["mlops-kit:namespace"] == "mlops-dev", "the tracked file is the source of plain config"


def test_a_salt_in_the_tracked_file_never_wins_over_the_workspace():
    merged = stacks.merged_stack_file({**TRACKED, "encryptionsalt": "v1:other"}, {})
    assert "encryptionsalt" not in merged


def test_write_back_copies_promoted_models_but_no_secret_or_salt(tmp_path):
    source, workspace = tmp_path / "src", tmp_path / "ws"
    source.mkdir(), workspace.mkdir()
    (source / "Pulumi.staging.yaml").write_text("# staging: a comment kept\n" + yaml.safe_dump(TRACKED))
    promoted = {**LOCAL, "config": {**LOCAL["config"], "mlops-kit:models": [{"name": "m", "modelVersion": "7"}]}}
    (workspace / "Pulumi.staging.yaml").write_text(yaml.safe_dump(promoted))
    stacks.write_back(source, workspace, "staging")
    text = (source / "Pulumi.staging.yaml").read_text()
    written = yaml.safe_load(text)
    assert text.startswith("# staging: a comment kept\n")
    assert written["config"]["mlops-kit:models"] == [{"name": "m", "modelVersion": "7"}]
    assert "encryptionsalt" not in written and "secure" not in text
    assert written["config"]["mlops-kit:namespace"] == "mlops-dev"


def test_state_of_a_local_cluster_stack_lives_with_the_cluster():
    local = parse_stack_config({"environment": "dev", "cluster": {"context": "kwok-mlops-kit"}})
    assert stacks.local_cluster_of(local) == "mlops-kit"
    assert stacks.state_root(local) == cluster_state_dir("mlops-kit")
    explicit = parse_stack_config(
        {"environment": "dev", "cluster": {"context": "kwok-x", "kubeconfig": str(local_kubeconfig())}}
    )
    assert stacks.local_cluster_of(explicit) == "x"


def test_state_of_any_other_cluster_lives_in_the_checkout():
    remote = parse_stack_config({"environment": "dev", "cluster": {"context": "kind-kind"}})
    assert stacks.local_cluster_of(remote) is None
    assert stacks.state_root(remote) == state_dir()
    foreign = parse_stack_config(
        {"environment": "dev", "cluster": {"context": "kwok-x", "kubeconfig": "/somewhere/else"}}
    )
    assert stacks.local_cluster_of(foreign) is None


def test_workspace_links_this_checkouts_program(tmp_path):
    source = tmp_path / "src"
    stacks.scratch_project(source, ("dev",))
    workspace = stacks.prepare_workspace(source, tmp_path / "ws", "dev")
    assert (workspace / "infra").resolve() == (source / "infra").resolve()
    assert yaml.safe_load((workspace / "Pulumi.dev.yaml").read_text())["config"]["mlops-kit:environment"] == "dev"


def test_config_edits_follow_pulumi_path_syntax():
    config = {"mlops-kit:models": [{"name": "m", "image": {"ref": "old"}, "canary": {"weight": 10}}]}
    edited = stacks.apply_edits(
        config,
        {"models[0].image.ref": "new", "models[0].canary": None, "tracking.image": "r/mlflow@x", "models[0].v": "3"},
    )
    assert edited["mlops-kit:models"] == [{"name": "m", "image": {"ref": "new"}, "v": "3"}]
    assert edited["mlops-kit:tracking"] == {"image": "r/mlflow@x"}
    assert config["mlops-kit:models"][0]["image"]["ref"] == "old", "the input is left alone"


def test_local_overrides_apply_on_top_of_the_tracked_file_and_stay_out_of_it(tmp_path):
    source = tmp_path / "src"
    stacks.scratch_project(source, ("dev",))
    tracked_before = (source / "Pulumi.dev.yaml").read_text()
    stacks.set_local_overrides(tmp_path / "ws", "dev", {"models[0].modelVersion": "9"})
    workspace = stacks.prepare_workspace(source, tmp_path / "ws", "dev")
    merged = yaml.safe_load((workspace / "Pulumi.dev.yaml").read_text())
    assert merged["config"]["mlops-kit:models"][0]["modelVersion"] == "9"
    assert (source / "Pulumi.dev.yaml").read_text() == tracked_before


def test_scratch_stacks_can_run_on_the_local_clusters_fake_nodes(tmp_path):
    stacks.scratch_project(tmp_path, ("dev",), context="kwok-x", local_nodes="fake")
    config = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    assert config["mlops-kit:cluster"] == {"context": "kwok-x", "localNodes": "fake"}
