"""Config of where a stack's releases come from: the promotion chain (dev → staging → prod by default)."""

from __future__ import annotations

from pydantic import Field

from infra.config.types import DnsLabel, Model


class PromotionConfig(Model):
    """`mlops-kit promote SRC DST` is refused unless SRC is DST's `source`: releases move one environment at a time,
    each having run (and passed its gates) in the one before."""

    source: DnsLabel | None = Field(
        None, description="The stack this one takes releases from; none: it builds its own (dev)."
    )
