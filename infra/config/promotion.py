"""Config of where a stack's releases come from: the promotion chain (dev → staging → prod by default)."""

from __future__ import annotations

from pydantic import Field

from infra.config.types import DnsLabel, Model, VersionText


class PromotionRecord(Model):
    """What the last `mlops-kit promote` into this stack did, written by the kit (config, so it is in the reviewable
    stack file) and exported as the stack output `lastPromotion`."""

    model: str
    image: str
    model_version: VersionText
    source: str
    at: str = Field(description="UTC time the promotion ended, ISO 8601")
    result: str = Field(description="promoted | rolled back: <why>")
    analysis: list[str] = Field(default_factory=list, description="every measurement, as printed")


class PromotionConfig(Model):
    """`mlops-kit promote SRC DST` is refused unless SRC is DST's `source`: releases move one environment at a time,
    each having run (and passed its gates) in the one before."""

    source: DnsLabel | None = Field(
        None, description="The stack this one takes releases from; none: it builds its own (dev)."
    )
    last: PromotionRecord | None = None
