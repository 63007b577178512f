"""The champion gate: whether a newly trained version replaces the champion, a pure decision from scores (testable
without MLflow). Not the rollout analysis, which judges a deployed track by its live metrics (mlops_kit/analysis.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS_CHAMPION = "previous-champion"  # kept so a bad promotion can be undone by alias alone


@dataclass(frozen=True)
class ChampionDecision:
    alias: Literal["champion", "challenger"]
    metric: str
    candidate_score: float
    champion_score: float | None
    champion_version: str | None
    margin: float
    reason: str

    def as_tags(self) -> dict[str, str]:
        """Flat string tags for the run and the model version (MLflow tags are strings)."""
        return {f"gate.{k}": "" if v is None else str(v) for k, v in asdict(self).items()}


def decide(
    metric: str,
    candidate_score: float,
    champion_score: float | None,
    margin: float,
    champion_version: str | None = None,
    champion_error: str | None = None,
) -> ChampionDecision:
    """Promote the candidate to champion only if there is no champion or it wins by more than `margin`.

    A champion that cannot be scored on the candidate's held-out data (e.g. different features) is kept: replacing a
    serving model needs evidence, and the candidate stays available as challenger.
    """
    common = {"metric": metric, "candidate_score": candidate_score, "margin": margin}
    if champion_version is None:
        return ChampionDecision(
            CHAMPION, champion_score=None, champion_version=None, reason="no champion yet", **common
        )
    if champion_score is None:
        return ChampionDecision(
            CHALLENGER,
            champion_score=None,
            champion_version=champion_version,
            reason=f"champion v{champion_version} could not be scored on this data ({champion_error}); kept it",
            **common,
        )
    improvement = candidate_score - champion_score
    if improvement > margin:
        reason = f"{metric} {candidate_score:.4f} beats champion v{champion_version} {champion_score:.4f} by {improvement:.4f} > {margin}"
        return ChampionDecision(
            CHAMPION, champion_score=champion_score, champion_version=champion_version, reason=reason, **common
        )
    reason = f"{metric} {candidate_score:.4f} vs champion v{champion_version} {champion_score:.4f}: improvement {improvement:.4f} is not > {margin}"
    return ChampionDecision(
        CHALLENGER, champion_score=champion_score, champion_version=champion_version, reason=reason, **common
    )
