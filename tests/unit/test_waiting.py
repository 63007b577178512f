import time

import httpx
import pytest

from mlops_kit.waiting import GaveUp, wait_until


def test_returns_the_first_truthy_answer():
    answers = iter([None, [], ["ready"]])
    assert wait_until(lambda: next(answers), timeout=5, interval=0) == ["ready"]


def test_a_server_that_does_not_answer_yet_is_polled_again():
    calls = []

    def check() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        return True

    assert wait_until(check, timeout=5, interval=0) is True
    assert len(calls) == 3


def test_other_errors_are_not_swallowed():
    with pytest.raises(KeyError):
        wait_until(lambda: {}["missing"], timeout=5, interval=0)


def test_gives_up_at_once_when_what_it_waits_on_is_gone():
    started = time.monotonic()
    with pytest.raises(GaveUp, match="exited"):
        wait_until(lambda: False, timeout=30, interval=0.01, alive=lambda: False)
    assert time.monotonic() - started < 5


def test_gives_up_after_the_timeout():
    with pytest.raises(GaveUp, match="not ready within 0 s"):
        wait_until(lambda: False, timeout=0.2, interval=0.05)
