"""The Pulumi program (`pulumi up -s dev|staging|prod`); everything it does is in infra/program.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `infra.*` imports work without an installed package

from infra.program import run

run()
