"""mlops_kit.traffic: the request budget holds with several clients, payloads go out in turn, and a dataset the CLI
cannot read is one error naming the key. The load goes to a loopback server of the test's own."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from mlops_kit.errors import UserError
from mlops_kit.traffic import Load, held_out_rows


class _Recorder(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        self.send_response(200 if body["n"] % 10 else 500)
        self.send_header("X-Model-Version", str(body["n"] % 2 + 1))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _Recorder.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()


def test_the_request_budget_holds_across_clients_and_payloads_go_in_turn(server):
    payloads = [{"n": n} for n in range(1, 8)]
    with Load(server, clients=4, max_requests=70, max_seconds=60, payloads=payloads) as load:
        outcome = load.wait()
    assert outcome.sent == 70 == len(_Recorder.bodies), outcome.summary()
    assert sorted(b["n"] for b in _Recorder.bodies) == sorted(list(range(1, 8)) * 10)
    assert outcome.statuses == {200: 70}  # n never reaches 10: no 500 was asked for
    assert outcome.failed == 0


def test_failed_answers_and_refused_connections_are_counted_apart(server):
    with Load(server, {"n": 10}, clients=1, max_requests=3, max_seconds=60) as load:
        assert load.wait().statuses == {500: 3}
    with Load("http://127.0.0.1:9/predict", {"n": 1}, clients=1, max_requests=2, max_seconds=60) as load:
        refused = load.wait()
    assert refused.errors == {"ConnectError": 2} and refused.failed == 2


def test_each_answer_is_kept_with_its_latency_and_the_version_that_gave_it(server):
    with Load(server, clients=2, max_requests=20, max_seconds=60, payloads=[{"n": 1}, {"n": 2}]) as load:
        outcome = load.wait()
    assert len(outcome.samples) == 20
    assert sorted({s.model_version for s in outcome.samples}) == ["1", "2"]
    latencies = sorted(s.seconds for s in outcome.samples)
    assert outcome.latency_quantile(0.99) == latencies[-1] and outcome.latency_quantile(0.0) == latencies[0]
    assert outcome.latency_quantile(0.5, start=max(s.ended for s in outcome.samples) + 1) is None


def test_held_out_rows_are_the_split_training_leaves_out():
    rows = held_out_rows("breast_cancer", count=5)
    assert len(rows) == 5 and all(len(row) == 30 for row in rows)


def test_a_dataset_that_cannot_be_read_here_names_the_key():
    with pytest.raises(UserError, match=r"mlops-kit:retraining.dataset '/nonexistent/data.csv'.*previewLoadRps: 0"):
        held_out_rows("/nonexistent/data.csv")
