"""Polling the bundle sources (`accord up --poll-interval`): what says a source changed, and
the poller activating newer revisions, refusing the rest and keeping the last good one."""

from __future__ import annotations

import os

import httpx
import pytest

from accord.actors.poller import BundlePoller, PolledGroup
from accord.bundles.errors import SourceError
from accord.bundles.publish import library_bundle, publish
from accord.bundles.sources import Fetcher
from accord.cluster.deployment import Deployment
from accord.protocols.jwk import SigningKey
from accord.protocols.minting import Status


def test_a_file_changes_with_its_content(tmp_path):
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(b"one")
    fetcher = Fetcher()
    first = fetcher.validator(path.as_uri())
    os.utime(path, ns=(1, 1))
    assert fetcher.validator(path.as_uri(), first) == first  # touched, not changed
    path.write_bytes(b"two")
    assert fetcher.validator(path.as_uri(), first) != first
    with pytest.raises(SourceError, match="missing"):
        fetcher.validator((tmp_path / "missing").as_uri())


def test_an_https_source_is_asked_with_its_etag():
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, headers={"ETag": '"v1"'}, content=b"x")

    fetcher = Fetcher(transport=httpx.MockTransport(answer))
    first = fetcher.validator("https://bundles.example/b.tar.gz")
    assert first == 'etag:"v1"'
    assert fetcher.validator("https://bundles.example/b.tar.gz", first) == first
    assert asked == [None, '"v1"']
    plain = Fetcher(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"x")))
    assert plain.validator("https://bundles.example/b.tar.gz") is None  # no validator: fetched every poll
    gone = Fetcher(transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    with pytest.raises(SourceError, match="404"):
        gone.validator("https://bundles.example/b.tar.gz")


@pytest.fixture
def live(scenario, tmp_path):
    """A deployment whose sources are one place a publisher overwrites, and its poller."""
    where = tmp_path / "live"
    sources = publish(library_bundle(scenario.data), scenario.admin, where, version=1)
    deployment = Deployment.in_process(state_dir=tmp_path / "state", bundle=sources)
    h = deployment.handles
    poller = BundlePoller(sources, 1, h.verifier, h.minter, [PolledGroup(g.evaluators, g.evaluator_ids)
                                                           for g in h.groups], deployment._invoker, start=False)  # fmt: skip
    return deployment, poller, where


def versions(deployment) -> set[int]:
    return {ev.status()["bundle"]["version"] for ev in deployment.handles.groups[0].evaluators}


def test_the_poller_activates_newer_revisions_and_keeps_the_last_good_one(live, scenario):
    deployment, poller, where = live
    assert poller.poll()["result"] == "unchanged"  # what runs already
    assert poller.poll() == {"at": poller.status()["last"]["at"], "result": "unchanged"}  # nothing touched
    publish(library_bundle(scenario.data), scenario.admin, where, version=2)
    activated = poller.poll()
    assert activated["result"] == "activated" and activated["version"] == 2 and len(activated["switched"]) == 3
    assert versions(deployment) == {2}

    publish(library_bundle(scenario.data), SigningKey.generate(), where, version=3)  # not a pinned signer
    failed = poller.poll()
    assert failed["result"] == "failed" and "pinned" in failed["error"].lower()
    assert versions(deployment) == {2}
    publish(library_bundle(scenario.data), scenario.admin, where, version=1)  # a rollback
    assert poller.poll()["result"] == "failed" and versions(deployment) == {2}
    status = poller.status()
    assert status["last"]["result"] == "failed" and status["last_activation"]["version"] == 2
    assert status["attempts"] == 5
    assert deployment.authorize(scenario.permit_request()).status is Status.PERMIT

    publish(library_bundle(scenario.data), scenario.admin, where, version=4)  # the next good one
    assert poller.poll()["result"] == "activated" and versions(deployment) == {4}


def test_a_poll_interval_below_a_second_is_refused(live):
    deployment, poller, _ = live
    with pytest.raises(ValueError, match="at least"):
        BundlePoller(poller._sources, 0.1, None, None, [], deployment._invoker, start=False)
