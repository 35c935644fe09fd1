"""The nine real AWS attestation documents, the Marlin mock document, and every way to break them."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from nitro_vectors import NITRO, REAL_DOCUMENTS, RealDocument

from accord.enclave.platform.attestation import decode_attestation, verify_attestation
from accord.enclave.platform.cose import CoseSign1
from accord.enclave.platform.errors import (
    AttestationError,
    AttestationSignatureError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    DebugModeError,
    MalformedAttestationError,
    NonceMismatchError,
    PcrMismatchError,
    RootPinMismatchError,
    UnsupportedAttestationAlgorithmError,
    UntrustedRootError,
)
from accord.enclave.platform.timeutil import from_millis, utc_now
from accord.enclave.platform.trust import AWS_NITRO_ROOT_G1_SHA256, TrustedRoot

DOCS = pytest.mark.parametrize("doc", REAL_DOCUMENTS, ids=lambda d: d.name)


def verify_real(doc: RealDocument, data: bytes | None = None, root=None, **options):
    from accord.enclave.platform.trust import aws_nitro_root_g1

    options.setdefault("allow_debug", doc.debug)
    options.setdefault("at", from_millis(doc.timestamp))
    return verify_attestation(doc.load() if data is None else data, root=root or aws_nitro_root_g1(), **options)


@DOCS
def test_vector_files_are_the_published_bytes(doc):
    assert hashlib.sha256((NITRO / doc.path).read_bytes()).hexdigest() == doc.file_sha256


def test_aws_root_pin():
    pem = (NITRO / "aws_nitro_enclaves_root_g1.pem").read_bytes()
    assert hashlib.sha256(pem).hexdigest() == "6eb9688305e4bbca67f44b59c29a0661ae930f09b5945b5d1d9ae01125c8d6c0"
    root = TrustedRoot.pinned(pem, AWS_NITRO_ROOT_G1_SHA256)
    assert root.subject == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"


def test_root_pin_mismatch_is_refused():
    with pytest.raises(RootPinMismatchError, match="pinned value"):
        TrustedRoot.pinned((NITRO / "marlin-mock" / "root.crt").read_bytes(), AWS_NITRO_ROOT_G1_SHA256)


@DOCS
def test_real_document_verifies_at_its_timestamp(doc, aws_root):
    document = verify_real(doc, root=aws_root)
    assert document.timestamp == doc.timestamp
    assert document.module_id == doc.module_id
    assert document.debug is doc.debug
    assert document.digest == "SHA384"
    assert len(document.cabundle) == 4
    # The root shipped in the document is Root-G1 (we never rely on it, but it is there).
    assert hashlib.sha256(document.cabundle[0]).hexdigest() == AWS_NITRO_ROOT_G1_SHA256
    # PCR4 = SHA-384(48 zero bytes || instance id), as the README observed.
    instance_id = doc.module_id.split("-enc")[0].encode()
    assert document.pcrs[4] == hashlib.sha384(bytes(48) + instance_id).digest()


@DOCS
def test_real_document_payload_reencodes_byte_for_byte(doc):
    cose, document = decode_attestation(doc.load())
    assert document.to_payload() == cose.payload
    assert cose.to_bytes() == doc.load()
    assert cose.protected == bytes.fromhex("a1013822") and cose.unprotected == {}


@DOCS
def test_real_document_verifies_when_tagged_18(doc):
    tagged = CoseSign1.decode(doc.load()).to_bytes(tagged=True)
    assert tagged[0] == 0xD2
    verify_real(doc, tagged)


@DOCS
def test_real_document_rejected_today(doc):
    with pytest.raises(CertificateExpiredError, match="expired"):
        verify_real(doc, at=utc_now())


@DOCS
def test_real_document_rejected_before_its_window(doc):
    leaf = x509.load_der_x509_certificate(decode_attestation(doc.load())[1].certificate)
    with pytest.raises(CertificateNotYetValidError, match="not yet"):
        verify_real(doc, at=leaf.not_valid_before_utc - timedelta(seconds=1))


@DOCS
def test_real_document_rejected_under_marlin_mock_root(doc, marlin_root):
    with pytest.raises(UntrustedRootError, match="pinned root"):
        verify_real(doc, root=marlin_root)


@DOCS
def test_real_document_rejected_under_simulated_root(doc, sim_root):
    with pytest.raises(UntrustedRootError, match="SIMULATED"):
        verify_real(doc, root=sim_root)


@DOCS
def test_real_document_rejected_with_other_pcr_expectation(doc):
    pcr0 = decode_attestation(doc.load())[1].pcrs[0]
    verify_real(doc, expected_pcrs={0: pcr0})
    other = bytes([pcr0[0] ^ 1]) + pcr0[1:]
    with pytest.raises(PcrMismatchError, match="PCR0"):
        verify_real(doc, expected_pcrs={0: other})


@DOCS
def test_real_document_rejected_with_absent_pcr_expectation(doc):
    with pytest.raises(PcrMismatchError, match="PCR31 is absent"):
        verify_real(doc, expected_pcrs={31: bytes(48)})


@pytest.mark.parametrize("doc", [d for d in REAL_DOCUMENTS if d.debug], ids=lambda d: d.name)
def test_real_debug_document_rejected_unless_allowed(doc):
    with pytest.raises(DebugModeError, match="debug"):
        verify_real(doc, allow_debug=False)


@DOCS
def test_real_document_nonce_check(doc):
    document = verify_real(doc)
    if document.nonce is None:
        with pytest.raises(NonceMismatchError, match="no nonce"):
            verify_real(doc, nonce=b"\x00" * 32)
    else:
        verify_real(doc, nonce=document.nonce)
        with pytest.raises(NonceMismatchError, match="differs"):
            verify_real(doc, nonce=bytes(len(document.nonce)))


def _flip_positions():
    """(document, region, position index) triples: every doc, spread over payload and signature."""
    cases = []
    for doc in REAL_DOCUMENTS:
        cases += [pytest.param(doc, "payload", k, id=f"{doc.name}-payload-{k}") for k in range(24)]
        cases += [pytest.param(doc, "signature", k, id=f"{doc.name}-signature-{k}") for k in range(12)]
        cases += [pytest.param(doc, "header", k, id=f"{doc.name}-header-{k}") for k in range(6)]
    return cases


@pytest.mark.parametrize("doc,region,k", _flip_positions())
def test_real_document_rejected_with_a_flipped_bit(doc, region, k):
    data = doc.load()
    cose = CoseSign1.decode(data)
    if region == "payload":
        start, length, count = data.index(cose.payload), len(cose.payload), 24
    elif region == "signature":
        start, length, count = len(data) - 96, 96, 12
    else:  # COSE framing: array head, protected header, unprotected map, payload length
        start, length, count = 0, 6, 6
    position = start + (k * (length - 1)) // (count - 1)
    flipped = bytearray(data)
    flipped[position] ^= 1 << (k % 8)
    with pytest.raises(AttestationError):
        verify_real(doc, bytes(flipped))


@DOCS
@pytest.mark.parametrize("keep", [0, 1, 10, 500, -97, -1])
def test_real_document_rejected_truncated(doc, keep):
    data = doc.load()
    with pytest.raises(MalformedAttestationError):
        verify_real(doc, data[:keep] if keep >= 0 else data[:keep])


def test_trailing_bytes_rejected():
    doc = REAL_DOCUMENTS[1]
    with pytest.raises(MalformedAttestationError, match="trailing"):
        verify_real(doc, doc.load() + b"\x00")


def test_other_cbor_tag_rejected():
    doc = REAL_DOCUMENTS[1]
    wrapped = cbor2.dumps(cbor2.CBORTag(98, cbor2.loads(doc.load())))
    with pytest.raises(MalformedAttestationError, match="tag 98"):
        verify_real(doc, wrapped)


@pytest.mark.parametrize("header", [{1: -7}, {1: -35, 4: b"kid"}, {}])
def test_other_protected_header_rejected(header):
    doc = REAL_DOCUMENTS[1]
    cose = CoseSign1.decode(doc.load())
    altered = cbor2.dumps([cbor2.dumps(header), {}, cose.payload, cose.signature])
    with pytest.raises(UnsupportedAttestationAlgorithmError):
        verify_real(doc, altered)


def test_signature_from_other_document_rejected():
    first, second = (CoseSign1.decode(d.load()) for d in REAL_DOCUMENTS[1:3])
    swapped = cbor2.dumps([first.protected, {}, first.payload, second.signature])
    with pytest.raises(AttestationSignatureError):
        verify_real(REAL_DOCUMENTS[1], swapped)


def test_marlin_mock_document_verifies_against_its_own_root(marlin_root, aws_root):
    data = (NITRO / "marlin-mock" / "custom.bin").read_bytes()
    document = verify_attestation(data, root=marlin_root, at=from_millis(1734080745008), allow_debug=True)
    assert document.pcrs[5] == bytes([5]) * 48 and document.debug  # PCRi = byte i, PCR0 zero
    assert len(document.cabundle) == 1
    with pytest.raises(DebugModeError):
        verify_attestation(data, root=marlin_root, at=from_millis(1734080745008))
    with pytest.raises(UntrustedRootError):
        verify_attestation(data, root=aws_root, at=from_millis(1734080745008), allow_debug=True)


def test_evervault_user_data_is_the_tls_certificate_key():
    document = verify_real(REAL_DOCUMENTS[0])
    tls = x509.load_der_x509_certificate((NITRO / "evervault" / "valid-certificate.der").read_bytes())
    spki = tls.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert document.user_data == spki


def test_optional_fields_as_in_readme():
    by_name = {d.name: verify_real(d) for d in REAL_DOCUMENTS}
    assert by_name["evervault-debug"].public_key == b"my super secret key"
    assert by_name["evervault-debug"].user_data == b"hello, world!"
    assert by_name["marlin-pcr16"].user_data == b"" and sorted(by_name["marlin-pcr16"].pcrs) == list(range(17))
    assert len(by_name["tkhq-qos"].public_key) == 800 and len(by_name["tkhq-qos"].user_data) == 32
    assert by_name["marlin-aws"].user_data is None and by_name["marlin-aws"].nonce is None
