"""Rollout analysis: is the new track healthy enough to take more traffic? (The champion gate, which decides
which model version is champion, is a different thing: services/training/.)

`evaluate` is a pure function of observed numbers and thresholds (unit-tested on its own); `PrometheusAnalysis` gets the
numbers from the recording rules in infra/monitoring/rules (their names and labels are the contract).
An analysis fails closed: no traffic, no answer from Prometheus or a missing series is never read as "healthy".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from mlops_kit.errors import EnvironmentProblem

ERROR_RATIO = "mlops:request_error_ratio:rate5m"
LATENCY_P99 = "mlops:request_latency_p99:rate5m"
REQUEST_RATE = "mlops:request_rate:rate5m"
DRIFT_PSI = "mlops:model_psi_max:1h"


@dataclass(frozen=True)
class Thresholds:
    max_error_rate: float
    max_p99_seconds: float
    max_drift_psi: float
    min_request_rate: float = 0.1  # requests/s: judging a track that served nothing proves nothing


@dataclass(frozen=True)
class Observation:
    error_ratio: float | None
    p99_seconds: float | None
    drift_psi: float | None
    request_rate: float | None


@dataclass(frozen=True)
class AnalysisResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return ("passed" if self.passed else "FAILED") + (": " + "; ".join(self.reasons) if self.reasons else "")


def evaluate(observed: Observation, limits: Thresholds) -> AnalysisResult:
    reasons = []
    if observed.request_rate is None or observed.request_rate < limits.min_request_rate:
        reasons.append(
            f"too little traffic to judge ({observed.request_rate or 0:.3f} req/s < {limits.min_request_rate})"
        )
    if observed.error_ratio is None:
        reasons.append("no error-ratio series")
    elif observed.error_ratio > limits.max_error_rate:
        reasons.append(f"error ratio {observed.error_ratio:.4f} > {limits.max_error_rate}")
    if observed.p99_seconds is None:
        reasons.append("no latency series")
    elif observed.p99_seconds > limits.max_p99_seconds:
        reasons.append(f"p99 {observed.p99_seconds:.3f} s > {limits.max_p99_seconds} s")
    # Drift needs an hour of rows; its absence alone does not block a step, a high value does.
    if observed.drift_psi is not None and observed.drift_psi > limits.max_drift_psi:
        reasons.append(f"input drift PSI {observed.drift_psi:.3f} > {limits.max_drift_psi}")
    if not reasons:
        reasons.append(
            f"error ratio {observed.error_ratio:.4f}, p99 {observed.p99_seconds:.3f} s, "
            f"{observed.request_rate:.2f} req/s"
            + (f", PSI {observed.drift_psi:.3f}" if observed.drift_psi is not None else "")
        )
        return AnalysisResult(True, reasons)
    return AnalysisResult(False, reasons)


class PrometheusError(EnvironmentProblem):
    pass


class PrometheusAnalysis:
    """Reads the recording rules for one track of one model service through Prometheus' HTTP API."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def scalar(self, promql: str) -> float | None:
        try:
            response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=self.timeout)
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

    def observe(self, namespace: str, service: str, track: str) -> Observation:
        selector = f'{{namespace="{namespace}", service="{service}", track="{track}"}}'
        return Observation(
            error_ratio=self.scalar(ERROR_RATIO + selector),
            p99_seconds=self.scalar(LATENCY_P99 + selector),
            drift_psi=self.scalar(DRIFT_PSI + selector),
            request_rate=self.scalar(REQUEST_RATE + selector),
        )
