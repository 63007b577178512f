from services.training.champion_gate import CHALLENGER, CHAMPION, decide


def test_first_model_becomes_champion():
    decision = decide("roc_auc", 0.9, None, 0.0, champion_version=None)
    assert decision.alias == CHAMPION
    assert decision.reason == "no champion yet"


def test_candidate_must_beat_champion_by_more_than_margin():
    assert decide("f1", 0.92, 0.90, 0.01, "3").alias == CHAMPION
    assert decide("f1", 0.905, 0.90, 0.01, "3").alias == CHALLENGER


def test_a_tie_keeps_the_champion():
    decision = decide("accuracy", 0.9, 0.9, 0.0, "1")
    assert decision.alias == CHALLENGER
    assert "not > 0.0" in decision.reason


def test_unscorable_champion_is_kept_and_reason_says_why():
    decision = decide("roc_auc", 0.99, None, 0.0, "4", champion_error="KeyError: 'x'")
    assert decision.alias == CHALLENGER
    assert "v4" in decision.reason and "KeyError" in decision.reason


def test_tags_are_flat_strings():
    tags = decide("roc_auc", 0.8, 0.7, 0.05, "2").as_tags()
    assert tags["gate.alias"] == CHAMPION
    assert tags["gate.champion_version"] == "2"
    assert all(isinstance(v, str) for v in tags.values())
