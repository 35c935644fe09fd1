"""The client trusts the JWKS only after the enclaves that sign with it attested, checked
against the operator's published release (not the deployment's state directory)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from accord.client import KeySetNotAttested, Release, ReleaseError, verify_key_set
from accord.client.attested_keys import STATUS_CLAIM
from accord.enclave.evaluator import STATUS_CLAIM as EVALUATOR_STATUS_CLAIM
from accord.enclave.platform.errors import AttestationError, NonceMismatchError, PcrMismatchError
from accord.enclave.platform.pki import SimulatedNitroPki
from accord.enclave.platform.timeutil import utc_now
from accord.protocols.jwk import SigningKey, build_jwks


@pytest.fixture(scope="module")
def policy(world, tmp_path_factory) -> Release:
    """The release as a client has it: the file the operator published."""
    return Release.load(world.deployment.release().save(tmp_path_factory.mktemp("published") / "release.json"))


@pytest.fixture(scope="module")
def fresh(world):
    nonce = os.urandom(32)
    return nonce, world.deployment.attestations(nonce)


def check(world, policy, documents, *, nonce, jwks=None, **options):
    return verify_key_set(documents, jwks or world.deployment.jwks(), policy, nonce=nonce, at=utc_now(), **options)


def test_the_status_claim_is_the_evaluators():
    assert STATUS_CLAIM == EVALUATOR_STATUS_CLAIM


# --- refusals first ---


def test_another_jwks_than_the_attested_one_is_refused(world, policy, fresh):
    nonce, documents = fresh
    impostor = build_jwks([SigningKey.generate().public])
    with pytest.raises(KeySetNotAttested, match="differ from the attested group kids"):
        check(world, policy, documents, nonce=nonce, jwks=impostor)
    extra = {"keys": world.deployment.jwks()["keys"] + impostor["keys"]}
    with pytest.raises(KeySetNotAttested, match="differ"):
        check(world, policy, documents, nonce=nonce, jwks=extra)


def test_a_kid_that_is_not_the_thumbprint_is_refused(world, policy, fresh):
    nonce, documents = fresh
    jwks = world.deployment.jwks()
    mislabeled = SigningKey.generate().public.to_jwks_entry() | {"kid": jwks["keys"][0]["kid"]}
    with pytest.raises(KeySetNotAttested, match="not the RFC 7638 thumbprint"):
        check(world, policy, documents, nonce=nonce, jwks={"keys": [mislabeled]})


def test_wrong_pcrs_are_refused(world, policy, fresh):
    nonce, documents = fresh
    # Another release of the code: same configuration, other application digest.
    measurement = replace(policy.measurement, application=bytes(48))
    other_release = replace(policy, measurement=measurement, pcrs=measurement.pcrs())
    with pytest.raises(PcrMismatchError, match="PCR"):
        check(world, other_release, documents, nonce=nonce)


def test_a_release_whose_pcrs_are_not_its_configurations_measurement_is_refused(policy):
    with pytest.raises(ReleaseError, match="not the measurement"):
        replace(policy, pcrs={**policy.pcrs, 0: bytes(48)})
    item = policy.to_dict()
    item["config"]["evaluator"]["clock_skew"] = 300  # a configuration the enclaves do not run
    with pytest.raises(ReleaseError, match="not the measurement"):
        Release.from_dict(item)


def test_another_root_is_refused(world, policy, fresh):
    nonce, documents = fresh
    stranger = SimulatedNitroPki.generate(now=utc_now()).trusted_root()
    with pytest.raises(ReleaseError, match="not the pinned root"):
        replace(policy, root_certificate=stranger.certificate.public_bytes(Encoding.DER)).trusted_root()
    repinned = Release.simulated(replace(policy.config, attestation_root=stranger.sha256), stranger)
    with pytest.raises(AttestationError):
        check(world, repinned, documents, nonce=nonce)


def test_replayed_documents_are_refused(world, policy, fresh):
    _, documents = fresh
    with pytest.raises(NonceMismatchError):
        check(world, policy, documents, nonce=os.urandom(32))


def test_fewer_enclaves_than_the_group_are_refused(world, policy, fresh):
    nonce, documents = fresh
    two = dict(list(documents.items())[:2])
    with pytest.raises(KeySetNotAttested, match=r"evaluators \['g0-e2-evaluator'\] did not attest"):
        check(world, policy, two, nonce=nonce)
    duplicated = {**two, "again": next(iter(two.values()))}
    with pytest.raises(KeySetNotAttested, match="attested twice"):
        check(world, policy, duplicated, nonce=nonce)


def test_an_unexpected_bundle_is_refused(world, policy, fresh):
    nonce, documents = fresh
    with pytest.raises(KeySetNotAttested, match="runs bundle"):
        check(world, policy, documents, nonce=nonce, expected_bundle="0" * 64)


# --- and over HTTP ---


def test_verified_jwks_over_http(world, policy):
    verified = world.client("bob").verified_jwks(policy)
    assert verified.jwks == world.deployment.jwks()
    assert len(verified.enclaves) == 3
    kid = verified.jwks["keys"][0]["kid"]
    assert {e.kid for e in verified.enclaves} == {kid}
    assert len({e.bundle for e in verified.enclaves}) == 1
    assert not any(e.debug for e in verified.enclaves)
    assert verified.enclaves[0].pcrs[2] == policy.pcrs[2].hex()
    assert {e.enclave_id for e in verified.enclaves} == set(policy.config.evaluator_ids(0))
