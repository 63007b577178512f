"""Pulumi stacks through the Automation API, with the kit's embedded defaults: the offline toolchain on PATH, a local
file backend inside the project's state dir, the passphrase secrets provider, and the local cluster when the stack
names it. Plain `pulumi` works too once the same environment is set (`source ~/.cache/mlops-kit/toolchain/env.sh`)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.config import SECRETS
from mlops_kit.errors import EnvironmentProblem
from mlops_kit.paths import REPO_ROOT, pulumi_backend_dir, toolchain_bin, toolchain_dir

DEFAULT_PASSPHRASE = "mlops-kit-local"  # local dev only; CI and real stacks set PULUMI_CONFIG_PASSPHRASE themselves


class StackError(EnvironmentProblem):
    pass


def environment(state_dir: Path | None = None) -> dict[str, str]:
    """Variables the Pulumi CLI needs here; values already set by the user win."""
    backend = pulumi_backend_dir(state_dir)
    backend.mkdir(parents=True, exist_ok=True)
    tool_bin = toolchain_bin()
    env = {
        "PATH": f"{tool_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_HOME": os.environ.get("PULUMI_HOME", str(toolchain_dir() / "pulumi-home")),
        "PULUMI_BACKEND_URL": os.environ.get("PULUMI_BACKEND_URL", f"file://{backend}"),
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEFAULT_PASSPHRASE),
    }
    return env


def _check_cli(env: dict[str, str]) -> None:
    if shutil.which("pulumi", path=env["PATH"]) is None:
        raise StackError(
            "the Pulumi CLI was not found: build the offline toolchain with `make toolchain` "
            "(or install pulumi and put it on PATH)"
        )


def select_stack(name: str, state_dir: Path | None = None, ensure_secrets: bool = True, work_dir: Path = REPO_ROOT):
    from pulumi import automation as auto

    env = environment(state_dir)
    _check_cli(env)
    os.environ.update(env)  # the Automation API spawns the CLI with this process's environment
    stack = auto.create_or_select_stack(
        stack_name=name,
        work_dir=str(work_dir),
        opts=auto.LocalWorkspaceOptions(env_vars=env, secrets_provider="passphrase"),
    )
    if ensure_secrets:
        existing = stack.get_all_config()
        for key in (key for key, secret in SECRETS.items() if secret.generated):
            if f"mlops-kit:{key}" not in existing:
                # Generated once per stack and kept only encrypted in the stack's config.
                stack.set_config(key, auto.ConfigValue(secrets.token_urlsafe(24), secret=True))
    return stack


def scratch_project(
    destination: Path, stacks: tuple[str, ...] = ("dev", "staging", "prod"), context: str | None = None
) -> Path:
    """A throwaway project dir whose `infra/` links to the repo's: config edits there never touch committed files.
    `context` points every stack at another cluster. Used by the e2e tests and the deploy benchmark."""
    import yaml

    destination.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    settings["runtime"]["options"]["virtualenv"] = str(REPO_ROOT / ".venv")
    (destination / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    link = destination / "infra"
    if not link.exists():
        link.symlink_to(REPO_ROOT / "infra")
    for stack in stacks:
        document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        if context:
            document["config"]["mlops-kit:cluster"] = {"context": context}
        (destination / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return destination


def outputs(stack) -> dict[str, Any]:
    return {k: v.value for k, v in stack.outputs().items()}


Printer = Callable[[str], None]


def up(name: str, on_output: Printer = print, state_dir: Path | None = None):
    stack = select_stack(name, state_dir)
    return stack, stack.up(on_output=on_output, color="never")


def preview(name: str, on_output: Printer = print, state_dir: Path | None = None):
    stack = select_stack(name, state_dir)
    return stack, stack.preview(on_output=on_output, color="never")


def destroy(name: str, on_output: Printer = print, state_dir: Path | None = None):
    stack = select_stack(name, state_dir, ensure_secrets=False)
    return stack, stack.destroy(on_output=on_output, color="never")
