"""Rollout analysis: one measurement judged against the thresholds (fail closed), the measurement loop (interval,
count, failure limit; its clock injected), and the analysis settings' validation. Pure: no Prometheus, no cluster."""

from __future__ import annotations

import pytest

from infra.config import parse_stack_config
from mlops_kit.analysis import Observation, Schedule, Thresholds, evaluate, run_analysis

LIMITS = Thresholds(max_error_rate=0.01, max_p99_seconds=0.5, max_drift_psi=0.25)


@pytest.mark.parametrize(
    ("observed", "passed", "fragment"),
    [
        (Observation(0.0, 0.05, 0.01, 300), True, "error ratio 0.0000"),
        (Observation(0.02, 0.05, None, 300), False, "error ratio 0.0200 > 0.01"),
        (Observation(0.0, 0.9, None, 300), False, "p99 0.900 s > 0.5 s"),
        (Observation(0.0, 0.05, 0.4, 300, drift_rows=5000), False, "input drift PSI 0.400 > 0.25 (5000 rows)"),
        (Observation(0.0, 0.05, 0.9, 300, drift_rows=120), True, "drift not judged (120 rows < 1000)"),
        (Observation(None, None, None, None), False, "too little traffic"),
        (Observation(0.0, 0.05, None, 3), False, "too little traffic to judge (3 requests < 20)"),
        (Observation(0.0, None, None, 300), False, "no latency series"),
    ],
)
def test_gate_decisions_fail_closed(observed, passed, fragment):
    result = evaluate(observed, LIMITS)
    assert result.passed is passed
    assert fragment in result.describe()


def _run(observations, failure_limit=0):
    answers, printed, slept = list(observations), [], []
    result = run_analysis(
        lambda window: answers.pop(0),
        Schedule(30, len(observations), failure_limit),
        LIMITS,
        printed.append,
        slept.append,
    )
    return result, printed, slept


GOOD = Observation(0.0, 0.05, None, 300)
BAD = Observation(0.2, 0.05, None, 300)


def test_analysis_measures_every_interval_and_prints_each_measurement():
    result, printed, slept = _run([GOOD, GOOD, GOOD])
    assert result.passed and result.reasons == ["3 of 3 measurements passed"]
    assert slept == [30, 30, 30], "each measurement waits one interval, then looks at that interval only"
    assert [line.split(":")[0] for line in printed] == [f"measurement {i}/3" for i in (1, 2, 3)]
    assert result.measurements == [line.rstrip("\n") for line in printed]


def test_analysis_fails_once_the_failure_limit_is_exceeded_and_stops_there():
    result, printed, _ = _run([GOOD, BAD, GOOD, GOOD], failure_limit=0)
    assert not result.passed and len(printed) == 2
    assert result.reasons[:2] == ["1 of 2 measurements failed (failureLimit 0)", "error ratio 0.2000 > 0.01"]
    tolerated, _, _ = _run([GOOD, BAD, GOOD], failure_limit=1)
    assert tolerated.passed and tolerated.reasons == ["2 of 3 measurements passed"]


def test_an_unreachable_prometheus_fails_the_measurement_closed():
    from mlops_kit.analysis import PrometheusError

    def measure(window):
        raise PrometheusError("Prometheus at http://127.0.0.1:1 did not answer")

    result = run_analysis(measure, Schedule(30, 2, 0), LIMITS, lambda line: None, lambda s: None)
    assert not result.passed and "did not answer" in result.describe()


@pytest.mark.parametrize(
    ("analysis", "message"),
    [
        (
            {"intervalSeconds": 30},
            r"analysis.intervalSeconds 30 is shorter than four scrapes \(monitoring.scrapeInterval 15s\): use at least 60",
        ),
        ({"measurements": 2, "failureLimit": 2}, r"failureLimit 2 must be below measurements 2"),
        ({"intervalSeconds": 5}, r"intervalSeconds.*greater than or equal to 10"),
    ],
)
def test_analysis_settings_out_of_range_name_the_key(analysis, message):
    from infra.config import ConfigError

    model = {"name": "bc", "image": {"ref": "r/s:1"}, "analysis": analysis}
    with pytest.raises(ConfigError, match=message):
        parse_stack_config({"environment": "dev", "models": [model]})
