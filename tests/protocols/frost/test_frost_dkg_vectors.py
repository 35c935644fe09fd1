"""ZcashFoundation frost DKG vectors (frost-ed25519 vectors_dkg.json), reproduced.

Each participant's polynomial (signing_key = a_i0, coefficient = a_i1) must give its VSS
commitment; every published proof of knowledge must verify (the vectors do not include the
proofs' nonces, so a proof cannot be recomputed); part2 must produce exactly the shares the
others received; part3, fed the other participants' packages, must produce the vector's
signing share, verifying shares and group key. (The vectors' `secret` fields are not read by
frost's own test either.)
"""

from __future__ import annotations

import pytest

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost import dkg
from accord.protocols.frost.errors import InvalidProofOfKnowledge
from accord.protocols.frost.identifier import Identifier
from frost_helpers import load_vector

h = bytes.fromhex
VECTOR = load_vector("zf-frost/ed25519/vectors_dkg.json")
INPUTS = VECTOR["inputs"]
MAX = VECTOR["config"]["MAX_PARTICIPANTS"]
MIN = VECTOR["config"]["MIN_PARTICIPANTS"]
PARTICIPANTS = [str(i) for i in range(1, MAX + 1)]


def round1_package(name: str) -> dkg.Round1Package:
    data = INPUTS[name]
    return dkg.Round1Package(
        commitment=tuple(cs.deserialize_element(h(c)) for c in data["vss_commitments"]),
        proof_r=cs.deserialize_element(h(data["proof_of_knowledge"])[:32]),
        proof_mu=h(data["proof_of_knowledge"])[32:],
    )


def identifier(name: str) -> Identifier:
    return Identifier(INPUTS[name]["identifier"])


@pytest.mark.parametrize("name", PARTICIPANTS)
def test_published_proofs_of_knowledge_verify(name):
    dkg.verify_proof_of_knowledge(identifier(name), round1_package(name))
    other = PARTICIPANTS[(PARTICIPANTS.index(name) + 1) % MAX]
    with pytest.raises(InvalidProofOfKnowledge) as caught:  # bound to the sender's identifier
        dkg.verify_proof_of_knowledge(identifier(other), round1_package(name))
    assert caught.value.culprit == identifier(other)


@pytest.mark.parametrize("name", PARTICIPANTS)
def test_participant_reproduces_vector(name):
    data = INPUTS[name]
    me = identifier(name)
    coefficients = [h(data["signing_key"]), h(data["coefficient"])]
    secret, own_package = dkg.round1_from_polynomial(me, coefficients, MAX, cs.random_scalar())
    assert [c.encoding.hex() for c in own_package.commitment] == data["vss_commitments"]
    dkg.verify_proof_of_knowledge(me, own_package)

    others = {identifier(n): round1_package(n) for n in PARTICIPANTS if n != name}
    state, outgoing = dkg.part2(secret, others)
    for recipient, package in outgoing.items():
        assert package.signing_share.reveal().hex() == INPUTS[str(recipient.value)]["signing_shares"][name]

    received = {Identifier(int(n)): dkg.Round2Package.from_bytes(h(s)) for n, s in data["signing_shares"].items()}
    key_package, public = dkg.part3(state, others, received)
    assert key_package.identifier == me
    assert key_package.min_signers == MIN
    assert key_package.signing_share.secret.reveal().hex() == data["signing_share"]
    assert key_package.verifying_share.to_bytes().hex() == data["verifying_share"]
    assert key_package.verifying_key.to_bytes().hex() == INPUTS["verifying_key"]
    assert public.verifying_key.to_bytes().hex() == INPUTS["verifying_key"]
    assert public.min_signers == MIN
    assert {i.value: s.to_bytes().hex() for i, s in public.verifying_shares.items()} == {
        INPUTS[n]["identifier"]: INPUTS[n]["verifying_share"] for n in PARTICIPANTS
    }


def test_group_key_is_the_sum_of_the_constant_terms():
    total = bytes(32)
    for name in PARTICIPANTS:
        total = cs.scalar_add(total, h(INPUTS[name]["signing_key"]))
    assert cs.scalar_base_mult(total).encoding.hex() == INPUTS["verifying_key"]
