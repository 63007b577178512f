"""The one table of the stack's secrets: key, what it protects, when a stack needs it, whether the kit may generate it.

Secrets never live in `Pulumi.<env>.yaml` in plain text nor in any other config value: they are Pulumi secrets
(`pulumi config set --secret mlops-kit:KEY`), read by the program with `get_secret`, handed to Kubernetes Secrets,
and shown by `render` only as a marker naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.config.types import PROJECT
from mlops_kit.errors import UserError

if TYPE_CHECKING:
    from infra.config.stack import StackConfig


@dataclass(frozen=True)
class Secret:
    key: str
    protects: str
    needed: Callable[[StackConfig], bool]
    generated: bool  # the kit may generate a random value for a local stack (`make up`, `mlops-kit up`)


SECRETS: dict[str, Secret] = {
    s.key: s
    for s in (
        Secret(
            "postgresPassword",
            "the MLflow backend store's PostgreSQL",
            lambda cfg: cfg.tracking.enabled and cfg.tracking.backend == "postgres",
            generated=True,
        ),
        Secret(
            "grafanaAdminPassword",
            "Grafana's admin user",
            lambda cfg: cfg.monitoring.enabled and cfg.monitoring.grafana,
            generated=True,
        ),
    )
}


class MissingSecret(UserError):
    """A secret the stack needs is not set."""


def required_secrets(cfg: StackConfig) -> list[str]:
    return [key for key, secret in SECRETS.items() if secret.needed(cfg)]


def marker(key: str) -> str:
    """What `render` writes in place of a secret's value."""
    return f"<pulumi secret {PROJECT}:{key}>"


def check_secrets(cfg: StackConfig, secrets: Mapping[str, Any], stack: str) -> None:
    missing = [key for key in required_secrets(cfg) if secrets.get(key) is None]
    if missing:
        commands = "; ".join(f"pulumi config set --secret {key} <value> -s {stack}" for key in missing)
        raise MissingSecret(
            f"stack {stack!r} needs the secret(s) {', '.join(f'{PROJECT}:{k}' for k in missing)} (never stored in "
            f"plain text): {commands}. `make up` sets generated ones for dev."
        )
