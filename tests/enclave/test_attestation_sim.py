"""Simulated documents, policy checks (nonce, age, debug) and forged certificate chains."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nitro_vectors import CONFIG, NOW, MutableClock, clock_at

from accord.enclave.platform.attestation import (
    AttestationDocument,
    AttestationPolicy,
    build_attestation,
    decode_attestation,
    verify_attestation,
)
from accord.enclave.platform.enclave import expected_pcrs
from accord.enclave.platform.errors import (
    AttestationError,
    CertificateChainError,
    CertificateExpiredError,
    DebugModeError,
    FutureAttestationError,
    MalformedAttestationError,
    NonceMismatchError,
    PcrMismatchError,
    StaleAttestationError,
    UnsupportedAttestationAlgorithmError,
    UntrustedRootError,
)
from accord.enclave.platform.measurement import measure
from accord.enclave.platform.simulated_nsm import SimulatedNsm
from accord.enclave.platform.timeutil import to_millis
from accord.enclave.platform.trust import TrustedRoot


@pytest.fixture(scope="module")
def nsm(pki):
    return SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-sim-test", clock=clock_at())


@pytest.fixture(scope="module")
def debug_nsm(pki):
    return SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-sim-debug", debug=True, clock=clock_at())


def test_simulated_document_verifies_under_simulated_root(nsm, sim_root):
    data = nsm.attestation(nonce=b"n" * 32, user_data=b"u", public_key=b"k")
    document = verify_attestation(data, root=sim_root, at=NOW, expected_pcrs=expected_pcrs(CONFIG),
                                  nonce=b"n" * 32, max_age=timedelta(minutes=5))  # fmt: skip
    assert document.timestamp == to_millis(NOW)
    assert (document.user_data, document.public_key, document.nonce) == (b"u", b"k", b"n" * 32)
    assert data[0] == 0x84  # untagged, as the NSM emits


def test_simulated_document_is_visibly_simulated(nsm, sim_root):
    cose, document = decode_attestation(nsm.attestation())
    assert document.module_id.startswith("SIMULATED-")
    assert sim_root.subject.startswith("CN=Accord SIMULATED Nitro root (not AWS)")
    assert "AWS" not in sim_root.certificate.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert cose.protected == bytes.fromhex("a1013822") and cose.unprotected == {}
    # Absent optional fields are encoded as null, like the real NSM.
    assert cose.payload.endswith(bytes.fromhex("6a7075626c69635f6b6579f669757365725f64617461f6656e6f6e6365f6"))


def test_simulated_chain_has_the_aws_shape(nsm):
    _, document = decode_attestation(nsm.attestation())
    chain = [x509.load_der_x509_certificate(c) for c in (*document.cabundle, document.certificate)]
    path_lengths = [c.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length for c in chain]
    assert path_lengths == [None, 2, 1, 0, None]
    lifetimes = [c.not_valid_after_utc - c.not_valid_before_utc for c in chain]
    assert lifetimes[0] > timedelta(days=365 * 29)
    assert lifetimes[1:] == [timedelta(days=20, hours=1), timedelta(days=6), timedelta(days=1), timedelta(hours=3, seconds=3)]
    assert all(isinstance(c.public_key().curve, ec.SECP384R1) for c in chain)
    assert all(c.signature_hash_algorithm.name == "sha384" for c in chain)


def test_simulated_document_rejected_under_aws_root(nsm, aws_root):
    with pytest.raises(UntrustedRootError, match="aws.nitro-enclaves"):
        verify_attestation(nsm.attestation(), root=aws_root, at=NOW)


def test_simulated_document_rejected_under_another_simulated_root(nsm):
    from accord.enclave.platform.pki import SimulatedNitroPki

    other = SimulatedNitroPki.generate(now=NOW).trusted_root()
    with pytest.raises(UntrustedRootError):
        verify_attestation(nsm.attestation(), root=other, at=NOW)


def test_debug_simulated_document(debug_nsm, sim_root):
    data = debug_nsm.attestation()
    document = decode_attestation(data)[1]
    assert document.debug and not any(document.pcrs[1]) and not any(document.pcrs[2])
    with pytest.raises(DebugModeError, match="debug-mode"):
        verify_attestation(data, root=sim_root, at=NOW)
    # Debug rejection wins even when the verifier expects the zero PCRs.
    with pytest.raises(DebugModeError):
        verify_attestation(data, root=sim_root, at=NOW, expected_pcrs={0: bytes(48)})
    assert verify_attestation(data, root=sim_root, at=NOW, allow_debug=True).debug


def test_pcr_mismatch_for_other_configuration(nsm, sim_root):
    from nitro_vectors import OTHER_CONFIG

    with pytest.raises(PcrMismatchError, match="PCR0"):
        verify_attestation(nsm.attestation(), root=sim_root, at=NOW, expected_pcrs=expected_pcrs(OTHER_CONFIG))


@pytest.mark.parametrize("sent,expected,message", [(None, b"x" * 16, "no nonce"), (b"y" * 16, b"x" * 16, "differs")])
def test_nonce_mismatch(nsm, sim_root, sent, expected, message):
    with pytest.raises(NonceMismatchError, match=message):
        verify_attestation(nsm.attestation(nonce=sent), root=sim_root, at=NOW, nonce=expected)


def test_stale_document(nsm, sim_root):
    data = nsm.attestation()
    policy = AttestationPolicy(root=sim_root, max_age=timedelta(minutes=5))
    policy.verify(data, at=NOW + timedelta(minutes=5))
    with pytest.raises(StaleAttestationError, match="maximum age"):
        policy.verify(data, at=NOW + timedelta(minutes=5, milliseconds=1))


def test_document_from_the_future(pki, sim_root):
    clock = MutableClock()
    nsm = SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-sim-future", clock=clock)
    nsm.attestation()  # issues the leaf at NOW
    clock.moment = NOW + timedelta(minutes=10)
    stamped_later = nsm.attestation()
    policy = AttestationPolicy(root=sim_root, max_age=timedelta(minutes=5))
    with pytest.raises(FutureAttestationError, match="after the verification time"):
        policy.verify(stamped_later, at=NOW + timedelta(minutes=1))


def test_simulated_document_expires_with_its_leaf(nsm, sim_root):
    data = nsm.attestation()
    with pytest.raises(CertificateExpiredError):
        verify_attestation(data, root=sim_root, at=NOW + timedelta(hours=3, seconds=4))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_mutation_is_rejected_with_an_attestation_error(nsm, sim_root, data):
    document = nsm.attestation(nonce=b"n" * 8)
    position = data.draw(st.integers(0, len(document) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != document[position]))
    mutated = document[:position] + bytes([value]) + document[position + 1 :]
    with pytest.raises(AttestationError):
        verify_attestation(mutated, root=sim_root, at=NOW, nonce=b"n" * 8)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_malformed(blob):
    with pytest.raises(AttestationError):
        decode_attestation(blob)


# --- forged chains: each flaw of a certificate has its own failure ------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer_name, key, signer, *, ca, path_length=None, usage=None, days=30, start=None,
          hash_alg=None, extra=()):  # fmt: skip
    start = start or NOW - timedelta(days=1)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )  # fmt: skip
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    for extension in extra:
        builder = builder.add_extension(extension, critical=True)
    return builder.sign(signer, hash_alg or hashes.SHA384())


def _usage(cert_sign: bool, digital_signature: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature, False, False, False, False, cert_sign, cert_sign, False, False)


def _p384():
    return ec.generate_private_key(ec.SECP384R1())


def forged(flaw: str | None = None):
    """A root -> intermediate -> leaf chain with one flaw, and a document signed by the leaf."""
    from cryptography.hazmat.primitives.serialization import Encoding

    root_key, inter_key = _p384(), _p384()
    leaf_key = ec.generate_private_key(ec.SECP256R1()) if flaw == "leaf_p256" else _p384()
    root = _cert("forge root", "forge root", root_key, root_key, ca=True,
                 path_length=0 if flaw == "root_pathlen" else None, usage=_usage(True))  # fmt: skip
    inter = _cert(
        "forge inter", "forge root", inter_key, root_key,
        ca=flaw != "inter_not_ca", path_length=None if flaw == "inter_not_ca" else 0,
        usage=_usage(flaw != "inter_no_cert_sign"),
        start=NOW - timedelta(days=40) if flaw == "inter_expired" else None,
        hash_alg=hashes.SHA256() if flaw == "inter_sha256" else None,
        extra=[x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")]
        if flaw == "inter_unknown_critical" else (),
    )  # fmt: skip
    chain = [inter]
    if flaw == "root_pathlen":  # a second CA below the intermediate violates the root's pathLen 0
        extra_key = _p384()
        chain.append(_cert("forge inter2", "forge inter", extra_key, inter_key, ca=True, usage=_usage(True)))
        inter_key, issuer_cn = extra_key, "forge inter2"
    else:
        issuer_cn = "someone else" if flaw == "leaf_issuer_name" else "forge inter"
    signer = _p384() if flaw == "leaf_wrong_signer" else inter_key
    leaf = _cert("forge leaf", issuer_cn, leaf_key, signer, ca=flaw == "leaf_is_ca",
                 usage=_usage(False, digital_signature=flaw != "leaf_no_digital_signature"), days=1)  # fmt: skip
    der = [c.public_bytes(Encoding.DER) for c in (root, *chain, leaf)]
    document = AttestationDocument(
        module_id="forged", digest="SHA384", timestamp=to_millis(NOW), pcrs={0: b"\x01" * 48},
        certificate=der[-1], cabundle=tuple(der[:-1]),
    )  # fmt: skip
    if flaw == "leaf_p256":
        from accord.enclave.platform.cose import PROTECTED_ES384, CoseSign1

        signature = bytes(96)  # a P-256 key cannot produce ES384 at all
        return TrustedRoot.from_certificate(root), CoseSign1(PROTECTED_ES384, {}, document.to_payload(), signature).to_bytes()
    return TrustedRoot.from_certificate(root), build_attestation(document, leaf_key)


def test_forged_chain_without_flaw_verifies():
    root, data = forged()
    assert verify_attestation(data, root=root, at=NOW).module_id == "forged"


@pytest.mark.parametrize(
    "flaw,error,message",
    [
        ("inter_not_ca", CertificateChainError, "not a CA"),
        ("inter_no_cert_sign", CertificateChainError, "keyCertSign"),
        ("root_pathlen", CertificateChainError, "pathLen 0"),
        ("inter_sha256", CertificateChainError, "ecdsa-with-SHA384"),
        ("inter_expired", CertificateExpiredError, "expired"),
        ("inter_unknown_critical", CertificateChainError, "path validation"),
        ("leaf_is_ca", CertificateChainError, "is a CA certificate"),
        ("leaf_no_digital_signature", CertificateChainError, "digitalSignature"),
        ("leaf_issuer_name", CertificateChainError, "names issuer"),
        ("leaf_wrong_signer", CertificateChainError, "not signed by its issuer"),
        ("leaf_p256", UnsupportedAttestationAlgorithmError, "P-384"),
    ],
)
def test_forged_chain_flaw_is_rejected(flaw, error, message):
    root, data = forged(flaw)
    with pytest.raises(error, match=message):
        verify_attestation(data, root=root, at=NOW)


def test_payload_field_checks():
    _, good = decode_attestation(forged()[1])
    from dataclasses import replace

    import cbor2

    def payload_error(**changes):
        fields = {**cbor2.loads(good.to_payload()), **changes}
        with pytest.raises(MalformedAttestationError):
            AttestationDocument.from_payload(cbor2.dumps(fields))

    payload_error(digest="SHA256")
    payload_error(timestamp=-1)
    payload_error(pcrs={0: b"short"})
    payload_error(pcrs={32: bytes(48)})
    payload_error(pcrs={1: bytes(48)})
    payload_error(cabundle=[])
    payload_error(nonce=bytes(513))
    payload_error(public_key=b"")
    payload_error(extra=1)
    payload_error(module_id="")
    assert AttestationDocument.from_payload(replace(good, nonce=bytes(512)).to_payload()).nonce == bytes(512)


def test_policy_and_root_travel_between_processes(sim_root):
    import pickle

    policy = AttestationPolicy(root=sim_root, expected_pcrs=expected_pcrs(CONFIG))
    assert pickle.loads(pickle.dumps(policy)).root.sha256 == sim_root.sha256
