"""Pulumi mocks for the unit layer: set once per process (mocks are global; the last set_mocks wins)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest


@dataclass
class Created:
    typ: str
    name: str
    inputs: dict[str, Any]


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back as outputs and remember every resource the program registered."""

    def __init__(self) -> None:
        self.created: list[Created] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.created.append(Created(args.typ, args.name, dict(args.inputs)))
        outputs = dict(args.inputs)
        if args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = f"{args.inputs.get('imageName', 'image').rsplit(':', 1)[0]}@sha256:{'ab' * 32}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of_kind(self, kind: str) -> list[Created]:
        return [c for c in self.created if c.typ.endswith(f":{kind}") and not c.typ.startswith("mlops-kit:")]


MOCKS = RecordingMocks()
pulumi.runtime.set_mocks(MOCKS, project="mlops-kit", stack="dev", preview=False)
os.environ["MLOPS_KIT_SKIP_CLUSTER_CHECK"] = "1"


@pytest.fixture
def mocks() -> RecordingMocks:
    MOCKS.created.clear()
    return MOCKS
