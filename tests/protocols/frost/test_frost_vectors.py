"""RFC 9591 and ZcashFoundation frost conformance vectors, every intermediate value."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.aggregate import aggregate, verify_signature_share
from accord.protocols.frost.binding import SigningContext, binding_factor_inputs
from accord.protocols.frost.identifier import Identifier
from accord.protocols.frost.keys import trusted_dealer_keygen
from accord.protocols.frost.round1 import SigningNonces, nonce_generate
from accord.protocols.frost.round2 import SignatureShare, sign
from accord.protocols.frost.signing_package import SigningPackage
from frost_helpers import load_vector

SIGNING_VECTORS = [
    "rfc9591/frost-ed25519-sha512.json",
    "zf-frost/ed25519/vectors.json",
    "zf-frost/ed25519/vectors-big-identifier.json",
]
h = bytes.fromhex


@pytest.fixture(scope="module", params=SIGNING_VECTORS)
def vector(request):
    v = load_vector(request.param)
    inputs = v["inputs"]
    identifiers = [Identifier(s["identifier"]) for s in inputs["participant_shares"]]
    keys, public = trusted_dealer_keygen(
        h(inputs["group_secret_key"]),
        int(v["config"]["MAX_PARTICIPANTS"]),
        int(v["config"]["MIN_PARTICIPANTS"]),
        coefficients=[h(c) for c in inputs["share_polynomial_coefficients"]],
        identifiers=identifiers,
    )
    return v, keys, public


def replay_round_one(v, keys):
    nonces = {}
    for out in v["round_one_outputs"]["outputs"]:
        share = keys[Identifier(out["identifier"])].signing_share
        hiding = nonce_generate(share, h(out["hiding_nonce_randomness"]))
        binding = nonce_generate(share, h(out["binding_nonce_randomness"]))
        nonces[Identifier(out["identifier"])] = (hiding, binding, SigningNonces(hiding, binding))
    return nonces


def test_key_shares_and_group_key(vector):
    v, keys, public = vector
    inputs = v["inputs"]
    for entry in inputs["participant_shares"]:
        key = keys[Identifier(entry["identifier"])]
        assert key.signing_share.secret.reveal().hex() == entry["participant_share"]
    group_key = inputs.get("group_public_key") or inputs["verifying_key_key"]
    assert public.verifying_key.to_bytes().hex() == group_key
    assert cs.scalar_base_mult(h(inputs["group_secret_key"])).encoding.hex() == group_key
    signers = [o["identifier"] for o in v["round_one_outputs"]["outputs"]]
    assert signers == inputs["participant_list"]
    assert len(signers) == int(v["config"]["NUM_PARTICIPANTS"])


def test_round_one_nonces_and_commitments(vector):
    v, keys, _ = vector
    nonces = replay_round_one(v, keys)
    for out in v["round_one_outputs"]["outputs"]:
        hiding, binding, signing_nonces = nonces[Identifier(out["identifier"])]
        assert hiding.hex() == out["hiding_nonce"]
        assert binding.hex() == out["binding_nonce"]
        assert signing_nonces.commitments.hiding.encoding.hex() == out["hiding_nonce_commitment"]
        assert signing_nonces.commitments.binding.encoding.hex() == out["binding_nonce_commitment"]


def test_binding_factors_signature_shares_and_signature(vector):
    v, keys, public = vector
    nonces = replay_round_one(v, keys)
    message = h(v["inputs"]["message"])
    package = SigningPackage({i: n[2].commitments for i, n in nonces.items()}, message)
    assert [i.value for i in package.participants] == v["inputs"]["participant_list"]

    inputs = binding_factor_inputs(public.verifying_key, package)
    context = SigningContext(package, public.verifying_key)
    for out in v["round_one_outputs"]["outputs"]:
        identifier = Identifier(out["identifier"])
        assert inputs[identifier].hex() == out["binding_factor_input"]
        assert context.binding_factors[identifier].hex() == out["binding_factor"]

    shares = {i: sign(package, n[2], keys[i]) for i, n in nonces.items()}
    for out in v["round_two_outputs"]["outputs"]:
        identifier = Identifier(out["identifier"])
        assert shares[identifier].to_bytes().hex() == out["sig_share"]
        verify_signature_share(context, identifier, public.verifying_shares[identifier], shares[identifier])

    signature = aggregate(package, shares, public)
    assert signature.hex() == v["final_output"]["sig"]
    Ed25519PublicKey.from_public_bytes(public.verifying_key.to_bytes()).verify(signature, message)


def test_vector_signature_shares_parse_and_aggregate(vector):
    """The aggregate of the vector's own shares, from their encodings, is the vector's signature."""
    v, keys, public = vector
    nonces = replay_round_one(v, keys)
    package = SigningPackage({i: n[2].commitments for i, n in nonces.items()}, h(v["inputs"]["message"]))
    shares = {
        Identifier(o["identifier"]): SignatureShare.from_bytes(h(o["sig_share"])) for o in v["round_two_outputs"]["outputs"]
    }
    assert aggregate(package, shares, public).hex() == v["final_output"]["sig"]
