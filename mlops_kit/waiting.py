"""Waiting for something to come up, one way for the kit, its tests and the benchmarks (on tenacity).

`wait_until` polls a check until it answers, and gives up early when the thing waited on is gone (`alive` false), so a
server that crashed at start-up is reported at once instead of after the whole timeout. Callers turn `GaveUp` into their
own error with their own context (a log tail, the container's output).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    stop_any,
    wait_fixed,
)

T = TypeVar("T")


class GaveUp(Exception):
    """The wait ended without an answer: what was waited on is gone, or the timeout ran out (the message says which)."""


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.5,
    alive: Callable[[], bool] | None = None,
    not_yet: tuple[type[BaseException], ...] = (httpx.HTTPError,),
) -> T:
    """Call `check` every `interval` s until it returns something truthy, and return that.

    Exceptions in `not_yet` (by default: the server does not answer yet) count as a falsy answer; any other is raised.
    """

    def gone(_: RetryCallState) -> bool:
        return alive is not None and not alive()

    retrying = Retrying(
        stop=stop_any(stop_after_delay(timeout), gone),
        wait=wait_fixed(interval),
        retry=retry_if_exception_type(not_yet) | retry_if_result(lambda answer: not answer),
    )
    try:
        return retrying(check)
    except RetryError:
        if alive is not None and not alive():
            raise GaveUp("exited before it was ready") from None
        raise GaveUp(f"not ready within {timeout:.0f} s") from None


def http_ok(url: str) -> Callable[[], bool]:
    """A check for `wait_until`: does GET `url` answer 200?"""
    return lambda: httpx.get(url, timeout=2.0).status_code == 200
