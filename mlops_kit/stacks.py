"""Pulumi stacks through the Automation API, with the kit's embedded defaults.

Three things are kept apart so that the README's commands work in any order, in any checkout:

* **The source project** (the repository, or a scratch copy in the e2e tests) holds `Pulumi.yaml` and the tracked
  `Pulumi.<env>.yaml` files: non-secret config only. The kit never writes secrets or encryption salts there.
* **The workspace** is the project directory the engine runs in: `Pulumi.yaml` (pointing at this checkout's venv),
  a link to `infra/`, and per stack the tracked config plus the local secrets and the passphrase salt. It is
  rebuilt from the source before every run; promotions write their config edits back to the source file.
* **The state** (file backend) belongs to the cluster: a stack on one of the kit's local clusters keeps its state
  and workspace beside that cluster (`paths.cluster_state_dir`), so two checkouts on one machine share them instead
  of fighting over the same namespace, and `cluster down` ends both. Stacks on other clusters use the checkout's
  `.state/`. `PULUMI_BACKEND_URL` and `PULUMI_CONFIG_PASSPHRASE` set by the user win.

Plain `pulumi` in the repository works too (`source ~/.cache/mlops-kit/toolchain/env.sh`); it then writes the
tracked stack file as Pulumi always does.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.config import PROJECT, SECRETS, StackConfig, load_stack_file
from mlops_kit.errors import EnvironmentProblem
from mlops_kit.paths import (
    REPO_ROOT,
    cluster_state_dir,
    expand,
    local_kubeconfig,
    state_dir,
    toolchain_bin,
    toolchain_dir,
)

DEFAULT_PASSPHRASE = "mlops-kit-local"  # local dev only; CI and real stacks set PULUMI_CONFIG_PASSPHRASE themselves
LOCAL_CONTEXT_PREFIX = "kwok-"
# What the engine may add to a stack file that must never reach the tracked copy.
LOCAL_ONLY_KEYS = ("encryptionsalt", "secretsprovider", "encryptedkey")


class StackError(EnvironmentProblem):
    pass


def local_cluster_of(cfg: StackConfig) -> str | None:
    """The name of the kit's local cluster the stack runs on, or None for any other cluster."""
    context = cfg.cluster.context or ""
    on_local_kubeconfig = cfg.cluster.kubeconfig is None or Path(expand(cfg.cluster.kubeconfig)) == local_kubeconfig()
    if context.startswith(LOCAL_CONTEXT_PREFIX) and on_local_kubeconfig:
        return context.removeprefix(LOCAL_CONTEXT_PREFIX)
    return None


def state_root(cfg: StackConfig) -> Path:
    cluster = local_cluster_of(cfg)
    return cluster_state_dir(cluster) if cluster else state_dir()


# What the user set before the kit started. select_stack exports each stack's values into this process's
# environment, so reading os.environ later would take the previous stack's backend for the user's choice.
_USER_SET = {
    key: os.environ[key]
    for key in ("PULUMI_HOME", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
    if key in os.environ
}


def environment(state: Path) -> dict[str, str]:
    """Variables the Pulumi CLI needs here; values the user set before the kit started win."""
    backend = state / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{toolchain_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_HOME": _USER_SET.get("PULUMI_HOME", str(toolchain_dir() / "pulumi-home")),
        "PULUMI_BACKEND_URL": _USER_SET.get("PULUMI_BACKEND_URL", f"file://{backend}"),
        "PULUMI_CONFIG_PASSPHRASE": _USER_SET.get("PULUMI_CONFIG_PASSPHRASE", DEFAULT_PASSPHRASE),
    }


def _check_cli(env: dict[str, str]) -> None:
    if shutil.which("pulumi", path=env["PATH"]) is None:
        raise StackError(
            "the Pulumi CLI was not found: build the offline toolchain with `make toolchain` "
            "(or install pulumi and put it on PATH)"
        )


def _read(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def merged_stack_file(tracked: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    """The workspace's stack file: the tracked config, plus the local secrets and salt (pure, unit-tested)."""
    merged = {k: v for k, v in tracked.items() if k not in LOCAL_ONLY_KEYS}
    config = dict(tracked.get("config") or {})
    for key, value in (local.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value and key not in config:
            config[key] = value
    merged["config"] = config
    for key in LOCAL_ONLY_KEYS:
        if key in local:
            merged[key] = local[key]
    return merged


_PATH_PART = re.compile(r"([A-Za-z0-9_-]+)|\[(\d+)\]")


def apply_edits(config: dict[str, Any], edits: dict[str, Any]) -> dict[str, Any]:
    """`pulumi config set --path` semantics on a stack file's `config:` mapping (pure): `models[0].image.ref` → value;
    None removes the key."""
    result = copy.deepcopy(config)
    for path, value in edits.items():
        parts = [name or int(index) for name, index in _PATH_PART.findall(path)]
        if not parts or not isinstance(parts[0], str):
            raise ValueError(f"config path {path!r} must start with a key, e.g. models[0].image.ref")
        parts[0] = f"{PROJECT}:{parts[0]}"
        node: Any = result
        for here, following in itertools.pairwise(parts):
            if isinstance(here, int):
                while len(node) <= here:
                    node.append({})
                node = node[here]
            else:
                if not isinstance(node.get(here), dict | list):
                    node[here] = [] if isinstance(following, int) else {}
                node = node[here]
        last = parts[-1]
        if value is None:
            if isinstance(last, str):
                node.pop(last, None)
        elif isinstance(last, int):
            while len(node) <= last:
                node.append({})
            node[last] = value
        else:
            node[last] = value
    return result


def _overrides_file(workspace: Path, stack: str) -> Path:
    return workspace / f"overrides.{stack}.json"


def set_local_overrides(workspace: Path, stack: str, edits: dict[str, Any]) -> None:
    """Config that is true of this machine only (its images' digests, its champion's version): applied on top of the
    tracked file in every run from this state, never written to a tracked file. `{}` removes all of them."""
    path = _overrides_file(workspace, stack)
    workspace.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(edits, indent=2, sort_keys=True))


def local_overrides(workspace: Path, stack: str) -> dict[str, Any]:
    path = _overrides_file(workspace, stack)
    return json.loads(path.read_text()) if path.is_file() else {}


def prepare_workspace(source: Path, workspace: Path, stack: str) -> Path:
    """(Re)build the workspace for `stack` from the source project; returns the workspace directory."""
    workspace.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((source / "Pulumi.yaml").read_text())
    settings["runtime"]["options"]["virtualenv"] = str(REPO_ROOT / ".venv")
    (workspace / "Pulumi.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    link = workspace / "infra"
    if link.is_symlink() and link.resolve() != (source / "infra").resolve():
        link.unlink()  # another checkout ran here last: the program is this checkout's
    if not link.exists():
        link.symlink_to((source / "infra").resolve())
    stack_file = workspace / f"Pulumi.{stack}.yaml"
    merged = merged_stack_file(_read(source / f"Pulumi.{stack}.yaml"), _read(stack_file))
    merged["config"] = apply_edits(merged["config"], local_overrides(workspace, stack))
    stack_file.write_text(yaml.safe_dump(merged, sort_keys=False))
    return workspace


def write_back(source: Path, workspace: Path, stack: str, keys: tuple[str, ...] = (f"{PROJECT}:models",)) -> None:
    """Copy config the kit changed in the workspace (a promotion's edits) into the tracked stack file, never secrets."""
    tracked_path = source / f"Pulumi.{stack}.yaml"
    text = tracked_path.read_text()
    header = (
        "".join(line for line in text.splitlines(keepends=True) if line.startswith("#")) if text.startswith("#") else ""
    )
    tracked = yaml.safe_load(text) or {}
    changed = _read(workspace / f"Pulumi.{stack}.yaml").get("config") or {}
    config = tracked.setdefault("config", {})
    for key in keys:
        if key in changed:
            config[key] = changed[key]
    tracked_path.write_text(header + yaml.safe_dump(tracked, sort_keys=False))


class Selected:
    """A selected stack with where it lives, so drivers can write promoted config back to the source."""

    def __init__(self, stack: Any, source: Path, workspace: Path) -> None:
        self.stack, self.source, self.workspace = stack, source, workspace

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stack, name)

    def write_back(self) -> None:
        """The models (a promotion's edits) and the promotion record; never secrets."""
        write_back(self.source, self.workspace, self.stack.name, (f"{PROJECT}:models", f"{PROJECT}:promotion"))

    def set_local_overrides(self, edits: dict[str, Any]) -> None:
        """Record machine-local config and rebuild the workspace's stack file with it."""
        set_local_overrides(self.workspace, self.stack.name, edits)
        prepare_workspace(self.source, self.workspace, self.stack.name)


def select_stack(
    name: str, state: Path | None = None, ensure_secrets: bool = True, work_dir: Path = REPO_ROOT
) -> Selected:
    from pulumi import automation as auto

    state = state or state_root(load_stack_file(name, work_dir))
    env = environment(state)
    _check_cli(env)
    os.environ.update(env)  # the Automation API spawns the CLI with this process's environment
    workspace = prepare_workspace(work_dir, state / "workspace", name)
    stack = auto.create_or_select_stack(
        stack_name=name,
        work_dir=str(workspace),
        opts=auto.LocalWorkspaceOptions(env_vars=env, secrets_provider="passphrase"),
    )
    if ensure_secrets:
        existing = stack.get_all_config()
        for key in (key for key, secret in SECRETS.items() if secret.generated):
            if f"{PROJECT}:{key}" not in existing:
                # Generated once per stack and kept only encrypted, in the workspace (never in a tracked file).
                stack.set_config(key, auto.ConfigValue(secrets.token_urlsafe(24), secret=True))
    return Selected(stack, work_dir, workspace)


def scratch_project(
    destination: Path,
    stacks: tuple[str, ...] = ("dev", "staging", "prod"),
    context: str | None = None,
    local_nodes: str | None = None,
) -> Path:
    """A throwaway source project whose `infra/` links to the repo's: config edits there never touch committed files.
    `context` points every stack at another cluster; `local_nodes` ("real" | "fake") picks the local cluster's nodes.
    Used by the e2e tests and the benchmarks."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", destination / "Pulumi.yaml")
    link = destination / "infra"
    if not link.exists():
        link.symlink_to(REPO_ROOT / "infra")
    for stack in stacks:
        document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        document = {k: v for k, v in document.items() if k not in LOCAL_ONLY_KEYS}
        if context:
            document["config"][f"{PROJECT}:cluster"] = {"context": context}
        if local_nodes:
            document["config"].setdefault(f"{PROJECT}:cluster", {})["localNodes"] = local_nodes
        (destination / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return destination


def outputs(stack: Any) -> dict[str, Any]:
    return {k: v.value for k, v in stack.outputs().items()}


Printer = Callable[[str], None]


def up(name: str, on_output: Printer = print, state: Path | None = None):
    stack = select_stack(name, state)
    return stack, stack.up(on_output=on_output, color="never")


def preview(name: str, on_output: Printer = print, state: Path | None = None):
    stack = select_stack(name, state)
    return stack, stack.preview(on_output=on_output, color="never")


def destroy(name: str, on_output: Printer = print, state: Path | None = None):
    stack = select_stack(name, state, ensure_secrets=False)
    return stack, stack.destroy(on_output=on_output, color="never")
