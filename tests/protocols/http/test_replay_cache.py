"""The replay cache: once per key per window, bounded, monotonic, deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.protocols.auth_errors import ReplayCacheFull, ReplayedNonce, ReplayWindowPassed
from accord.protocols.replay import ReplayCache

T = 1_700_000_000
A, B = "key-a", "key-b"


def _record(cache, jkt=A, nonce="n1", created=T, expires=T + 60, now=T):
    cache.check_and_record(jkt, nonce, created=created, expires=expires, now=now)


# --- negative ------------------------------------------------------------------------------


def test_nonce_accepted_once_per_key_within_window():
    cache = ReplayCache(skew=30)
    _record(cache)
    for now in (T, T + 60, T + 90):  # up to expires + skew
        with pytest.raises(ReplayedNonce):
            _record(cache, now=now)


def test_forgotten_nonce_is_refused_not_accepted():
    cache = ReplayCache(skew=30)
    _record(cache)
    with pytest.raises(ReplayWindowPassed):
        _record(cache, now=T + 91)
    assert len(cache) == 0


def test_host_cannot_rewind_time_to_revive_a_nonce():
    cache = ReplayCache(skew=30)
    _record(cache)
    assert cache.purge(T + 500) == 1
    with pytest.raises(ReplayWindowPassed):
        _record(cache, now=T)  # the host replays an old `now` after the purge


def test_full_cache_refuses_and_recovers():
    cache = ReplayCache(capacity=2, skew=0)
    _record(cache, nonce="n1", expires=T + 10)
    _record(cache, nonce="n2", expires=T + 20)
    with pytest.raises(ReplayCacheFull):
        _record(cache, nonce="n3")
    with pytest.raises(ReplayedNonce):  # refusal did not evict a live entry
        _record(cache, nonce="n1")
    _record(cache, nonce="n3", now=T + 11, expires=T + 60)  # n1 expired, room again
    assert len(cache) == 2


def test_invalid_arguments():
    with pytest.raises(ValueError):
        ReplayCache(capacity=0)
    with pytest.raises(ValueError):
        _record(ReplayCache(), created=T + 1, expires=T)


# --- accepted ------------------------------------------------------------------------------


def test_same_nonce_other_key_and_other_nonce_same_key():
    cache = ReplayCache()
    _record(cache, jkt=A)
    _record(cache, jkt=B)
    _record(cache, jkt=A, nonce="n2")
    assert len(cache) == 3


def test_nonce_reusable_in_a_later_window():
    cache = ReplayCache(skew=30)
    _record(cache)
    _record(cache, created=T + 200, expires=T + 260, now=T + 200)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([A, B]), st.sampled_from(["n1", "n2", "n3"]), st.integers(0, 200), st.integers(1, 120)
        ),
        max_size=30,
    )
)
def test_deterministic_and_never_accepts_twice_in_window(events):
    caches = ReplayCache(capacity=4, skew=5), ReplayCache(capacity=4, skew=5)
    accepted: dict[tuple[str, str], int] = {}
    now = T
    for jkt, nonce, step, lifetime in events:
        now += step // 10
        outcomes = []
        for cache in caches:
            try:
                _record(cache, jkt=jkt, nonce=nonce, created=now, expires=now + lifetime, now=now)
                outcomes.append("ok")
            except (ReplayedNonce, ReplayWindowPassed, ReplayCacheFull) as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1]
        if outcomes[0] == "ok":
            assert accepted.get((jkt, nonce), -1) < now  # any earlier acceptance's window had ended
            accepted[(jkt, nonce)] = now + lifetime + 5
