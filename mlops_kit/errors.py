"""The kit's one error model.

Every failure a user can meet is one of two kinds, and the kind alone decides the outcome:

* ``UserError``: the input was wrong (stack config, a CLI argument, a payload, a promotion order). Exit 2. The
  message names the field or argument, what was given and what would be valid.
* ``EnvironmentProblem``: the input was fine but the world was not (no cluster, a missing prerequisite, a server
  that does not answer, a failed build). Exit 1. The message names what is missing and the command that fixes it.

Modules raise their own subclasses (``ConfigError``, ``ClusterUnreachable`` …) so callers can catch narrowly; the CLI
catches ``KitError`` once (``mlops_kit.cli.main``) and prints ``message`` without a traceback. A leaf module: the
Pulumi program and the services may import it.
"""

from __future__ import annotations


class KitError(Exception):
    """Base of every error the kit reports to a person."""

    exit_code = 1

    @property
    def message(self) -> str:
        return str(self)


class UserError(KitError, ValueError):
    """Bad input: fix the named field or argument and run again."""

    exit_code = 2


class EnvironmentProblem(KitError, RuntimeError):
    """Something the kit needs is missing or not answering: the message says what and how to get it."""

    exit_code = 1
