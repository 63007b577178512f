"""The `mlops-kit` Typer app, its consoles, and the one place where the kit's errors become output.

Commands are registered with `@command(...)` (or `@command(sub_app, ...)`) instead of `app.command`: the wrapper
turns any `KitError` into its message and its exit code (2 for a user's mistake, 1 for the environment), so no
command maps exceptions by hand and none prints a traceback for something a person can fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from mlops_kit.errors import KitError, UserError

app = typer.Typer(
    help="mlops-kit: train, champion-gate, serve and roll out ML models on Kubernetes, as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def report(exc: KitError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def command(target: typer.Typer | str | None = None, *args: Any, **kwargs: Any) -> Callable:
    """`@command()`, `@command("name")` or `@command(sub_app, "name")`: register with the error handler around it."""
    typer_app = target if isinstance(target, typer.Typer) else app
    if isinstance(target, str):
        args = (target, *args)

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def guarded(*a: Any, **k: Any) -> Any:
            try:
                return fn(*a, **k)
            except KitError as exc:
                raise report(exc) from None

        return typer_app.command(*args, **kwargs)(guarded)

    return register


def printer(line: str) -> None:
    """Engine output arrives line by line without newlines; our own progress lines carry one."""
    console.print(line.rstrip("\n"), markup=False, highlight=False)


def validation_problems(exc: ValidationError, prefix: str = "") -> UserError:
    """One line per problem: the dotted field path, what was wrong, the value given."""
    lines = []
    for problem in exc.errors(include_url=False):
        where = ".".join(str(p) for p in problem["loc"]) or "<root>"
        if prefix == "--":  # CLI options are spelled with dashes
            where = where.replace("_", "-")
        given = f" (got {problem['input']!r})" if "input" in problem and not isinstance(problem["input"], dict) else ""
        lines.append(f"  {prefix}{where}: {problem['msg']}{given}")
    return UserError("invalid configuration:\n" + "\n".join(lines))
