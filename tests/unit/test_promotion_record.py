"""What a promotion leaves behind: its record in the target's config (one CLI call, parsed back by the config model)
and its marks in the model registry (a tag for every outcome, the target's alias only where the target runs it)."""

from __future__ import annotations

from infra.config import parse_stack_config
from tests.unit.promotion_doubles import DIGEST, RecordingRegistry


def test_the_promotion_record_is_one_config_call_and_parses_back():
    from mlops_kit.promotion import _record

    class Stack:
        def __init__(self):
            self.calls = []

        def remove_config(self, key, path):
            self.calls.append(("remove", key))

        def set_all_config(self, config, path):
            self.calls.append(("set", {k: v.value for k, v in config.items()}))

    stack = Stack()
    record = {"model": "breast-cancer", "image": DIGEST, "modelVersion": "7", "source": "dev",
              "at": "2026-12-03T17:00:00+00:00", "result": "promoted", "analysis": ["canary at 50%: m 1/1: passed"]}  # fmt: skip
    _record(stack, record)
    assert stack.calls[0] == ("remove", "promotion.last")
    (_, leaves) = stack.calls[1]
    assert leaves["promotion.last.modelVersion"] == "7"
    assert leaves["promotion.last.analysis[0]"] == "canary at 50%: m 1/1: passed"
    cfg = parse_stack_config({"environment": "staging", "promotion": {"last": {**record}}})
    assert cfg.promotion.source == "dev" and cfg.promotion.last.result == "promoted"


def test_marking_the_registry_tags_every_outcome_and_moves_the_alias_only_where_the_target_runs_it():
    from mlops_kit.promotion import _mark_registry

    registry = RecordingRegistry({"dev"})
    record = {"modelVersion": "7", "image": DIGEST, "source": "dev", "at": "t", "result": "promoted"}
    _mark_registry(registry, "breast-cancer", "staging", record, print, runs_it=True)
    _mark_registry(registry, "breast-cancer", "staging", {**record, "result": "rolled back: x"}, print, runs_it=False)
    assert registry.marks == [
        ("tag", "mlops-kit.promotion.staging", "7"),
        ("alias", "staging", "7"),
        ("tag", "mlops-kit.promotion.staging", "7"),
    ]
