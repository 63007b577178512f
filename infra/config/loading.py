"""Reading stack config: a `Pulumi.<env>.yaml` file or the engine's `mlops-kit:*` values → a validated StackConfig.

Values are layered on top of the per-environment defaults; every error names the Pulumi config key, the bad value and
what would be valid, all problems at once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from infra.config.secrets import SECRETS
from infra.config.stack import ENVIRONMENT_DEFAULTS, MODEL_DEFAULTS, StackConfig
from infra.config.types import PROJECT, ConfigError, Environment
from mlops_kit.paths import REPO_ROOT


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any) -> Any:
    """The engine hands structured config to the program as JSON strings; YAML files give objects. Accept both."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return value


def _location(loc: tuple[Any, ...]) -> str:
    head, *rest = loc or ("<root>",)
    path = f"{PROJECT}:{head}"
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"invalid stack configuration in {source}:"]
    for problem in exc.errors(include_url=False):
        given = problem.get("input")
        shown = "" if isinstance(given, dict | list) or given is None else f" (got {given!r})"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            lines.append(f"  - {_location(tuple(problem['loc']))}: {message}{shown}")
        else:  # whole-stack rules name their own key path
            lines.append(f"  - {PROJECT}:{message}")
    return "\n".join(lines)


def parse_stack_config(raw: Mapping[str, Any], source: str = "stack config") -> StackConfig:
    """Raw `mlops-kit:*` values (prefix stripped) → validated StackConfig with environment defaults applied."""
    values = {k: _decode(v) for k, v in raw.items() if k not in SECRETS}
    env_raw = values.get("environment")
    try:
        environment = Environment(env_raw)
    except ValueError:
        valid = ", ".join(e.value for e in Environment)
        raise ConfigError(
            f"invalid stack configuration in {source}:\n  - {PROJECT}:environment: must be one of {valid} (got {env_raw!r})"
        ) from None
    merged = deep_merge(ENVIRONMENT_DEFAULTS[environment], values)
    models = merged.get("models")
    if isinstance(models, list):
        merged["models"] = [deep_merge(MODEL_DEFAULTS[environment], m) if isinstance(m, Mapping) else m for m in models]
    try:
        return StackConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML lets the last of two equal keys win silently; Pulumi refuses the file. Refuse it here too, so `render`
    and `up` never read one file two ways."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (the earlier value would be lost)", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_namespaces(keys: Iterable[str], source: str) -> None:
    """A key under a namespace that looks like the kit's (`mlops-kti:monitoring`) would be ignored by the program and
    the stack would run with defaults: refuse it, naming the key."""
    typos = []
    for key in keys:
        namespace, _, rest = key.partition(":")
        if rest and namespace != PROJECT and difflib.SequenceMatcher(None, namespace, PROJECT).ratio() >= 0.75:
            typos.append(f"{key} (did you mean {PROJECT}:{rest}?)")
    if typos:
        raise ConfigError(f"{source}: config keys under a misspelt namespace would be ignored: {', '.join(typos)}")


def check_secrets_are_secure(config: Mapping[str, Any], source: str, is_secret: Any = None) -> None:
    """Every key of the secrets table must be a Pulumi secret (`secure:` in the file): a plain value would sit in
    the stack file, the state and every preview in clear text."""

    def secure(key: str) -> bool:
        value = config[key]
        return is_secret(key) if is_secret else isinstance(value, Mapping) and "secure" in value

    plain = [key for key in SECRETS if f"{PROJECT}:{key}" in config and not secure(f"{PROJECT}:{key}")]
    if plain:
        commands = "; ".join(f"pulumi config set --secret {PROJECT}:{key} <value>" for key in plain)
        raise ConfigError(
            f"{source}: {', '.join(f'{PROJECT}:{k}' for k in plain)} must be a secret, not plain text: remove the "
            f"value and run {commands} (then rotate it: it was readable)"
        )


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `mlops-kit:*` config of a Pulumi.<env>.yaml, prefix stripped; secure values stay opaque."""
    try:
        document = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}  # a SafeLoader
    except FileNotFoundError:
        raise ConfigError(f"stack file {path} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    config = document.get("config") or {}
    prefix = f"{PROJECT}:"
    foreign = sorted(k for k in config if not k.startswith(prefix) and ":" not in k)
    if foreign:
        raise ConfigError(f"{path}: config keys must be namespaced (e.g. {prefix}{foreign[0]}); found {foreign}")
    check_namespaces(config, str(path))
    check_secrets_are_secure(config, str(path))
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def load_stack_file(stack: str, root: Path = REPO_ROOT) -> StackConfig:
    path = root / f"Pulumi.{stack}.yaml"
    return parse_stack_config(read_stack_file(path), str(path.name))


def load_from_pulumi() -> StackConfig:
    """Inside `pulumi up/preview`: read every `mlops-kit:*` key the engine passed to the program."""
    import pulumi
    from pulumi.runtime.config import CONFIG, is_config_secret

    prefix = f"{PROJECT}:"
    source = f"Pulumi.{pulumi.get_stack()}.yaml"
    config = CONFIG.get()
    check_namespaces(config, source)
    check_secrets_are_secure(config, source, is_config_secret)
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return parse_stack_config(raw, source)
