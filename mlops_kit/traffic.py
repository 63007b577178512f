"""Bounded traffic to a model service: a few client threads POSTing one payload, until a request count or a time
limit is reached, whichever comes first; optionally paced to a total rate. The rollout analysis sends it to a
blue-green preview Service (which takes no user traffic) so that there is something to judge; the real-pod tests and
benchmarks use it as load."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from mlops_kit.errors import UserError


@dataclass(frozen=True)
class Sample:
    """One answered request: when it ended (time.monotonic()), how long it took, and which model version answered
    (the server's X-Model-Version header), so a rollout can be read back from the load: who served when."""

    ended: float
    seconds: float
    model_version: str | None


@dataclass
class Outcome:
    """What the clients saw: status codes by count, transport errors (refused, reset, timed out) by kind, and a sample
    per answered request."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def latency_quantile(self, q: float, start: float = 0.0, end: float = float("inf")) -> float | None:
        """The q-quantile (0..1) of the latencies of requests that ended in [start, end); None without any."""
        with self.lock:
            latencies = sorted(s.seconds for s in self.samples if start <= s.ended < end)
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return self.sent - self.statuses[200]

    def summary(self) -> str:
        return f"{self.sent} sent: statuses {dict(self.statuses)}, transport errors {dict(self.errors)}"


class Load:
    """`with Load(url, payload, clients=4, max_requests=..., max_seconds=...[, rps=...]) as load:` runs in the
    background; leaving the block stops it and joins the threads. `load.outcome` holds the counts. A list of
    payloads (`payloads=[...]` instead of `payload`) is sent in turn: rows that vary keep the drift metrics honest
    (one row sent a thousand times is a distribution far from the training data's)."""

    def __init__(
        self,
        url: str,
        payload: Any = None,
        *,
        clients: int,
        max_requests: int,
        max_seconds: float,
        rps: float | None = None,
        payloads: list[Any] | None = None,
    ) -> None:
        self.url, self.clients = url, clients
        self.payloads = payloads or [payload]
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.issued = 0  # requests handed to clients, under the outcome's lock: never more than max_requests
        self.pause = clients / rps if rps else 0.0  # per client, between requests
        self.outcome = Outcome()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _client(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        # One connection per request: kube-proxy balances connections, not requests, so a kept-alive client would
        # stay on one pod and never notice that another one went away.
        with httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                with self.outcome.lock:
                    if self.issued >= self.max_requests:
                        return
                    payload = self.payloads[self.issued % len(self.payloads)]
                    self.issued += 1
                began = time.monotonic()
                try:
                    response = client.post(self.url, json=payload)
                    status, error = response.status_code, None
                except httpx.TransportError as exc:
                    status, error = None, type(exc).__name__
                ended = time.monotonic()
                with self.outcome.lock:
                    if error:
                        self.outcome.errors[error] += 1
                    else:
                        self.outcome.statuses[status] += 1
                        version = response.headers.get("x-model-version")
                        self.outcome.samples.append(Sample(ended, ended - began, version))
                if self.pause:
                    self._stop.wait(self.pause)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self) -> Outcome:
        """Block until the count or time limit ends the load."""
        for thread in self._threads:
            thread.join()
        return self.outcome

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.wait()


def held_out_rows(dataset: str, count: int = 1000) -> list[list[float]]:
    """`count` rows of the dataset's held-out split (the one training leaves out), as the predict API takes them."""
    from services.training.config import TrainingConfig
    from services.training.data import load_dataset, split

    try:
        loaded, defaults = load_dataset(dataset), TrainingConfig()
    except OSError as exc:
        raise UserError(
            f"mlops-kit:retraining.dataset {dataset!r}: cannot read it on this machine for the preview traffic "
            f"({exc.strerror or exc}); use a bundled dataset or a local copy, or set analysis.previewLoadRps: 0"
        ) from None
    features, labels = loaded.frame[loaded.feature_names], loaded.frame[loaded.target]
    _, held_out, _, _ = split(features, labels, defaults.test_size, defaults.seed)
    return [[float(v) for v in row] for row in held_out.head(count).itertuples(index=False)]


def through_port_forward(kube: Any, port: int, rows: list[list[float]]):
    """A traffic source for the rollout analysis: `(namespace, service, rps, seconds)` → a context that sends `rows`
    to the Service through `kubectl port-forward` (any cluster; nothing else needs to reach it) while it is open."""

    @contextlib.contextmanager
    def send(namespace: str, service: str, rps: float, seconds: float):
        with kube.port_forward(namespace, f"svc/{service}", port) as local:
            url = f"http://127.0.0.1:{local}/predict"
            with Load(
                url, {"instances": rows}, clients=2, max_requests=int(rps * seconds) + 1, max_seconds=seconds, rps=rps
            ):
                yield

    return send
