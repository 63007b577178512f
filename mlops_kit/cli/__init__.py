"""`mlops-kit`: the convenience CLI over the training pipeline, serving, local cluster and Pulumi stacks.

One module per area (`ml`, `stacks`, `cluster`); `app` holds the Typer app and the single error handler, so every
user mistake ends in a one-paragraph message with exit code 2 (bad input) or 1 (environment), never a traceback.
"""

from mlops_kit.cli import cluster, ml, stacks  # noqa: F401  (registers the commands)
from mlops_kit.cli.app import app

__all__ = ["app"]
