"""Shipping decision-log entries to an HTTP endpoint: OPA's upload shape, offsets that
survive a restart of the shipper, backoff on failure, a bounded buffer."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from click.testing import CliRunner

from accord.cli import main
from accord.cluster.deployment import Deployment
from accord.cluster.log_shipping import LogShipper


@pytest.fixture(scope="module")
def logs(scenario, tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    deployment = Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    deployment.authorize_many([scenario.permit_request(), scenario.forbid_request()])
    return state / "logs"


class Service:
    def __init__(self, failures: int = 0) -> None:
        self.failures, self.received = failures, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            return httpx.Response(503)
        assert request.headers["content-encoding"] == "gzip"
        self.received += json.loads(gzip.decompress(request.content))
        return httpx.Response(204)


def shipper(logs, service, clock=lambda: 0.0, **kw):
    return LogShipper(logs, "https://logs.example/v1/logs", client=httpx.Client(transport=httpx.MockTransport(service)),
                      clock=clock, **kw)  # fmt: skip


def test_entries_ship_once_in_opa_shape_and_offsets_survive_a_restart(logs):
    (logs / ".shipped.json").unlink(missing_ok=True)
    service = Service()
    assert shipper(logs, service).run_once() == 6  # 2 requests x 3 evaluators
    event = service.received[0]
    assert event["path"] == "accord/decision" and event["labels"]["id"].endswith("-evaluator")
    assert event["result"]["decision"] in ("permit", "forbid") and "payload" not in event["input"]
    assert shipper(logs, service).run_once() == 0  # a restarted shipper goes on where it stopped
    assert len(service.received) == 6


def test_a_failing_service_is_retried_with_backoff(logs):
    (logs / ".shipped.json").unlink(missing_ok=True)
    now = [0.0]
    service = Service(failures=2)
    s = shipper(logs, service, clock=lambda: now[0])
    assert s.run_once() == 0 and s.state.backoff == 1.0 and "503" in s.state.last_error
    assert s.ship() == 0  # still backing off: no request
    now[0] = 1.0
    assert s.ship() == 0 and s.state.backoff == 2.0 and s.state.failures == 2
    now[0] = 3.0
    assert s.ship() == 6 and s.state.last_error is None and s.state.backoff == 0.0


def test_the_buffer_is_bounded(logs):
    (logs / ".shipped.json").unlink(missing_ok=True)
    s = shipper(logs, Service(failures=100), max_buffer=4)
    s.collect()
    assert s.state.dropped == 2 and len(s._buffer) == 4


def test_the_command_ships_and_fails_clearly(logs, tmp_path):
    state = logs.parent
    result = CliRunner().invoke(main, ["log", "ship", "--state-dir", str(state), "--url", "http://127.0.0.1:9/x",
                                       "--once"])  # fmt: skip
    assert result.exit_code == 1 and "last error ConnectError" in result.output and "retry in 1 s" in result.output
