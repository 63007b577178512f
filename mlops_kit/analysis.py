"""Rollout analysis: is the new track healthy enough to take more traffic? (The champion gate, which decides
which model version is champion, is a different thing: services/training/.)

A step is judged the way Argo Rollouts and Flagger judge one: `measurements` measurements, one every
`intervalSeconds`, each over that interval's requests only (queries whose window is the interval, so nothing from
before the step counts), with at most `failureLimit` failures. `evaluate` is a pure function of one measurement and
the thresholds; `run_analysis` is the loop (its clock injectable); `PrometheusAnalysis` takes the numbers from the
raw serving metrics through Prometheus' HTTP API, with the target labels the scrape config gives every series
(namespace, service, track). An analysis fails closed: too few requests, no answer from Prometheus or a missing
series is never read as "healthy".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from mlops_kit.errors import EnvironmentProblem

DRIFT_PSI = "mlops:model_psi_max:1h"  # drift needs an hour of rows: the recording rule, not the step's window
DRIFT_ROWS = "mlops:feature_observations:1h"
REQUESTS = "bentoml_service_request_total"
DURATION_BUCKETS = "bentoml_service_request_duration_seconds_bucket"


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float
    max_p99_seconds: float
    max_drift_psi: float
    min_requests: int = 20  # per measurement: judging a track that served nothing proves nothing
    # PSI on a few hundred rows is noise: one empty decile alone adds 0.69 (services/monitoring/drift.py's floor).
    min_drift_rows: int = 1000


@dataclass(frozen=True)
class Observation:
    """One measurement of one track over one window."""

    error_ratio: float | None
    p99_seconds: float | None
    drift_psi: float | None
    requests: float | None  # /predict requests in the window
    drift_rows: float | None = None  # input rows behind the PSI (the hour's, per feature)


@dataclass(frozen=True)
class AnalysisResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    measurements: list[str] = field(default_factory=list)  # one line per measurement, for the promotion record

    def describe(self) -> str:
        return ("passed" if self.passed else "FAILED") + (": " + "; ".join(self.reasons) if self.reasons else "")


def evaluate(observed: Observation, limits: Thresholds) -> AnalysisResult:
    reasons = []
    if observed.requests is None or observed.requests < limits.min_requests:
        reasons.append(f"too little traffic to judge ({observed.requests or 0:.0f} requests < {limits.min_requests})")
    if observed.error_ratio is None:
        reasons.append("no error-ratio series")
    elif observed.error_ratio > limits.max_error_rate:
        reasons.append(f"error ratio {observed.error_ratio:.4f} > {limits.max_error_rate}")
    if observed.p99_seconds is None:
        reasons.append(f"no latency series ({observed.requests or 0:.0f} requests)")
    elif observed.p99_seconds > limits.max_p99_seconds:
        reasons.append(f"p99 {observed.p99_seconds:.3f} s > {limits.max_p99_seconds} s")
    # Drift needs many rows; too few (or none) does not block a step, a high value on enough rows does.
    drift_judged = observed.drift_psi is not None and (observed.drift_rows or 0) >= limits.min_drift_rows
    if drift_judged and observed.drift_psi > limits.max_drift_psi:
        reasons.append(
            f"input drift PSI {observed.drift_psi:.3f} > {limits.max_drift_psi} ({observed.drift_rows:.0f} rows)"
        )
    if not reasons:
        drift = (
            f", PSI {observed.drift_psi:.3f}"
            if drift_judged
            else f", drift not judged ({observed.drift_rows or 0:.0f} rows < {limits.min_drift_rows})"
        )
        reasons.append(
            f"error ratio {observed.error_ratio:.4f}, p99 {observed.p99_seconds:.3f} s, "
            f"{observed.requests:.0f} requests" + drift
        )
        return AnalysisResult(True, reasons)
    return AnalysisResult(False, reasons)


@dataclass(frozen=True)
class Schedule:
    interval_seconds: int
    measurements: int
    failure_limit: int


def run_analysis(
    measure: Callable[[int], Observation],
    schedule: Schedule,
    limits: Thresholds,
    on_output: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> AnalysisResult:
    """Wait an interval, measure that interval, judge it; stop as soon as more than `failure_limit` failed."""
    failures, lines = 0, []
    for number in range(1, schedule.measurements + 1):
        sleep(schedule.interval_seconds)
        try:
            result = evaluate(measure(schedule.interval_seconds), limits)
        except PrometheusError as exc:
            result = AnalysisResult(False, [str(exc)])  # fail closed
        failures += not result.passed
        lines.append(f"measurement {number}/{schedule.measurements}: {result.describe()}")
        on_output(lines[-1] + "\n")
        if failures > schedule.failure_limit:
            return AnalysisResult(
                False,
                [
                    f"{failures} of {number} measurements failed (failureLimit {schedule.failure_limit})",
                    *result.reasons,
                ],
                lines,
            )
    passed = schedule.measurements - failures
    return AnalysisResult(True, [f"{passed} of {schedule.measurements} measurements passed"], lines)


class PrometheusError(EnvironmentProblem):
    pass


class PrometheusAnalysis:
    """Measures one track of one model service over a window, through Prometheus' HTTP API."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def scalar(self, promql: str, at: float | None = None) -> float | None:
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        try:
            response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=self.timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise PrometheusError(f"Prometheus at {self.url} did not answer {promql!r}: {exc}") from None
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus rejected {promql!r}: {body.get('error')}")
        result = body["data"]["result"]
        if not result:
            return None
        return max(float(sample["value"][1]) for sample in result)

    def observe(self, namespace: str, service: str, track: str, window_seconds: int) -> Observation:
        where = f'namespace="{namespace}", service="{service}", track="{track}", endpoint="/predict"'
        window = f"[{window_seconds}s]"
        requests = f"sum(increase({REQUESTS}{{{where}}}{window}))"
        errors = f'sum(increase({REQUESTS}{{{where}, http_response_code=~"5.."}}{window}))'
        latency = f"histogram_quantile(0.99, sum by (le) (rate({DURATION_BUCKETS}{{{where}}}{window})))"
        at = time.time()  # one evaluation time for every query of the measurement: the same window for all
        count = self.scalar(requests, at)
        track_labels = f'{{namespace="{namespace}", service="{service}", track="{track}"}}'
        return Observation(
            # No 5xx series at all means no errors, when there were requests.
            error_ratio=None if not count else (self.scalar(errors, at) or 0.0) / count,
            p99_seconds=self.scalar(latency, at) if count else None,
            drift_psi=self.scalar(DRIFT_PSI + track_labels, at),
            requests=count,
            drift_rows=self.scalar(f"min({DRIFT_ROWS}{track_labels})", at),
        )
