"""Stand-ins for the stacks and the registry in promotion's unit tests: a stack that fails the test when touched, a
source stack that exports version 7, a registry that records what it is told."""

from __future__ import annotations

import pytest

DIGEST = "127.0.0.1:5000/mlops-kit/serving@sha256:" + "c" * 64


class Untouchable:
    """A stack that fails the test if anything reads or changes it."""

    def __getattr__(self, name):
        pytest.fail(f"the promotion touched a stack ({name}) before its checks passed")


class Source:
    """A source stack that exports version 7 of breast-cancer by digest."""

    def outputs(self):
        value = type("V", (), {"value": {"breast-cancer": {"image": DIGEST, "modelVersion": "7"}}})
        return {"models": value}


LABELS_OF_7 = {"mlops-kit.model.name": "breast-cancer", "mlops-kit.model.version": "7"}


class RecordingRegistry:
    def __init__(self, aliases: set[str]) -> None:
        self.carried, self.marks = aliases, []

    def aliases(self, model_name, version):
        return self.carried

    def set_alias(self, model_name, alias, version):
        self.marks.append(("alias", alias, version))

    def set_tag(self, model_name, version, key, value):
        self.marks.append(("tag", key, version))
