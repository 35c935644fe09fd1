"""The active bundle store: last good bundle stays active; no rollback, even after restart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from bundle_fixtures import NOW, SOURCE_FILES

from accord.bundles import errors
from accord.bundles.build import sign_bundle
from accord.bundles.keys import fingerprint, public_key_bytes
from accord.bundles.layout import read_tarball, write_tarball
from accord.bundles.sources import BundleSources, Fetcher
from accord.bundles.store import ActiveBundleStore, FileHighWaterMark


@pytest.fixture
def hwm_path(tmp_path):
    return tmp_path / "high-water.json"


@pytest.fixture
def store(trust, hwm_path):
    return ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)


def load(store, bundle, key):
    return store.load(bundle.archive, public_key=public_key_bytes(key.public), signature=bundle.signature)


def test_load_activates_and_persists(store, make_bundle, admin_key, hwm_path):
    assert store.active is None
    v = load(store, make_bundle(version=1), admin_key)
    assert store.active is v and v.version == 1
    assert json.loads(hwm_path.read_text()) == {"version": 1, "digest": v.digest}


def test_equal_and_older_versions_are_refused(store, make_bundle, admin_key):
    v1 = load(store, make_bundle(version=1), admin_key)
    with pytest.raises(errors.RollbackError, match="version 1 is below the minimum accepted version 2"):
        load(store, make_bundle(version=1), admin_key)
    assert store.active is v1
    v3 = load(store, make_bundle(version=3), admin_key)
    with pytest.raises(errors.RollbackError):
        load(store, make_bundle(version=2), admin_key)
    assert store.active is v3


def _tampered(b):
    files = {f.path: f.content for f in read_tarball(b.archive).files}
    files["accord/roles/data.json"] = b'{"admins": ["mallory"]}'
    return write_tarball(files)


def _unbuilt(files, key):
    """Signed as given, without `bundle build` adding a revision."""
    archive = write_tarball(files)
    return archive, key.public, sign_bundle(read_tarball(archive), key, iat=0)


FAILURES = {
    "unsigned": lambda mk, key, other: (mk(version=5).archive, key.public, None),
    "tampered": lambda mk, key, other: (_tampered(b := mk(version=5)), key.public, b.signature),
    "expired": lambda mk, key, other: (
        (b := mk(version=5, expires=NOW - timedelta(seconds=1))).archive, key.public, b.signature
    ),
    "unpinned-key": lambda mk, key, other: (
        (b := mk(version=5, key=other)).archive, other.public, b.signature
    ),
    "malformed-manifest": lambda mk, key, other: _unbuilt(
        {**SOURCE_FILES, ".manifest": b'{"revision": "5"}'}, key
    ),
    "rollback": lambda mk, key, other: ((b := mk(version=2)).archive, key.public, b.signature),
    "not-a-tarball": lambda mk, key, other: (b"garbage", key.public, None),
    "foreign-signature": lambda mk, key, other: (
        mk(version=5).archive, key.public, mk({**SOURCE_FILES, "accord/x.rego": b"package accord.x"}, version=5).signature
    ),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_last_good_bundle_stays_active_after_each_failure(
    failure, store, make_bundle, admin_key, other_key, hwm_path
):
    good = load(store, make_bundle(version=3), admin_key)
    mark = hwm_path.read_bytes()
    archive, key, signature = FAILURES[failure](make_bundle, admin_key, other_key)
    with pytest.raises(errors.BundleError):
        store.load(archive, public_key=key, signature=signature)
    assert store.active is good
    assert hwm_path.read_bytes() == mark


def test_restart_does_not_allow_rollback(trust, hwm_path, make_bundle, admin_key):
    first = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    load(first, make_bundle(version=3), admin_key)
    restarted = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    with pytest.raises(errors.RollbackError, match="minimum accepted version 3"):
        load(restarted, make_bundle(version=2), admin_key)
    assert restarted.active is None
    assert load(restarted, make_bundle(version=4), admin_key).version == 4


def test_restart_reactivates_exactly_the_recorded_bundle(trust, hwm_path, make_bundle, admin_key):
    bundle = make_bundle(version=3)
    first = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    digest = load(first, bundle, admin_key).digest
    restarted = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    assert load(restarted, bundle, admin_key).digest == digest
    # ...but not again while it is active, and not another bundle under the same version.
    with pytest.raises(errors.RollbackError):
        load(restarted, bundle, admin_key)
    again = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    with pytest.raises(errors.RollbackError, match="already activated with digest"):
        load(again, make_bundle({**SOURCE_FILES, "accord/extra/data.json": b"{\"changed\": true}"}, version=3), admin_key)
    assert again.active is None


def test_without_high_water_mark_rollback_is_refused_in_memory(trust, make_bundle, admin_key):
    store = ActiveBundleStore(trust, clock=lambda: NOW)
    load(store, make_bundle(version=2), admin_key)
    with pytest.raises(errors.RollbackError):
        load(store, make_bundle(version=1), admin_key)


@pytest.mark.parametrize("content", ["not json", '{"version": "3"}', '{"version": -1}', "[]"])
def test_malformed_high_water_mark_fails_closed(trust, hwm_path, make_bundle, admin_key, content):
    hwm_path.write_text(content)
    store = ActiveBundleStore(trust, high_water=FileHighWaterMark(hwm_path), clock=lambda: NOW)
    with pytest.raises(errors.HighWaterMarkError):
        load(store, make_bundle(version=9), admin_key)
    assert store.active is None


def test_unwritable_high_water_mark_blocks_activation(trust, tmp_path, make_bundle, admin_key):
    blocked = tmp_path / "dir-not-file"
    blocked.mkdir()
    store = ActiveBundleStore(trust, high_water=FileHighWaterMark(blocked), clock=lambda: NOW)
    with pytest.raises(errors.HighWaterMarkError):
        load(store, make_bundle(version=1), admin_key)
    assert store.active is None


def test_expiry_uses_the_store_clock(trust, make_bundle, admin_key):
    b = make_bundle(version=1, expires=NOW + timedelta(hours=1))
    late = ActiveBundleStore(trust, clock=lambda: NOW + timedelta(hours=2))
    with pytest.raises(errors.ExpiredBundleError):
        load(late, b, admin_key)


def test_load_from_three_file_sources(store, make_bundle, admin_key, tmp_path):
    b = make_bundle(version=2)
    (tmp_path / "bundle.tar.gz").write_bytes(b.archive)
    (tmp_path / "bundle.sig.json").write_bytes(b.signature)
    (tmp_path / "admin.pub.jwk").write_bytes(public_key_bytes(admin_key.public))
    sources = BundleSources(
        bundle=(tmp_path / "bundle.tar.gz").as_uri(),
        signature=(tmp_path / "bundle.sig.json").as_uri(),
        public_key=(tmp_path / "admin.pub.jwk").as_uri(),
    )
    with Fetcher() as fetcher:
        assert store.load_from(sources, fetcher).version == 2


def test_load_accepts_read_bundle_and_key_objects(store, make_bundle, admin_key):
    b = make_bundle(version=1)
    v = store.load(read_tarball(b.archive), public_key=admin_key.public, signature=b.signature)
    assert v.signer_fingerprint == fingerprint(admin_key)
