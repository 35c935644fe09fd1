"""NSM API encoding (the nsm-api crate's CBOR shapes), the simulated NSM, and the /dev/nsm ioctl path."""

from __future__ import annotations

import ctypes
import hashlib

import pytest
from nitro_vectors import CONFIG, clock_at

from accord.enclave.platform.attestation import decode_attestation
from accord.enclave.platform.errors import NsmError, NsmProtocolError, NsmUnavailableError
from accord.enclave.platform.measurement import measure
from accord.enclave.platform.nitro_nsm import NSM_IOCTL_REQUEST, NSM_RESPONSE_MAX_SIZE, NitroNsm, NsmMessage
from accord.enclave.platform.nsm import (
    Attestation,
    AttestationResponse,
    DescribeNsm,
    DescribeNsmResponse,
    DescribePcr,
    DescribePcrResponse,
    Digest,
    ErrorCode,
    ErrorResponse,
    ExtendPcr,
    GetRandom,
    LockPcr,
    LockPcrs,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from accord.enclave.platform.simulated_nsm import SimulatedNsm


def t(text: str) -> str:
    """Hex of a short CBOR text string (major type 3, length < 24), written out by hand."""
    assert len(text) < 24
    return f"{0x60 + len(text):02x}" + text.encode().hex()


# serde_cbor's externally tagged enums: unit variants as text, struct variants as 1-entry maps.
REQUEST_VECTORS = [
    (DescribePcr(0), "a1" + t("DescribePCR") + "a1" + t("index") + "00"),
    (ExtendPcr(16, b"abc"), "a1" + t("ExtendPCR") + "a2" + t("index") + "10" + t("data") + "43616263"),
    (LockPcr(16), "a1" + t("LockPCR") + "a1" + t("index") + "10"),
    (LockPcrs(16), "a1" + t("LockPCRs") + "a1" + t("range") + "10"),
    (DescribeNsm(), t("DescribeNSM")),
    (GetRandom(), t("GetRandom")),
    (
        Attestation(user_data=None, nonce=b"\x01\x02", public_key=None),
        "a1" + t("Attestation") + "a3" + t("user_data") + "f6" + t("nonce") + "420102" + t("public_key") + "f6",
    ),
    (DescribePcr(300), "a1" + t("DescribePCR") + "a1" + t("index") + "19012c"),
]


@pytest.mark.parametrize("request_,hex_", REQUEST_VECTORS, ids=lambda v: getattr(v, "WIRE", None))
def test_request_encoding_matches_nsm_api(request_, hex_):
    assert encode_request(request_).hex() == hex_
    assert decode_request(bytes.fromhex(hex_)) == request_


RESPONSE_VECTORS = [
    (ErrorResponse(ErrorCode.INVALID_INDEX), "a1" + t("Error") + t("InvalidIndex")),
    (DescribePcrResponse(True, b"\x00"), "a1" + t("DescribePCR") + "a2" + t("lock") + "f5" + t("data") + "4100"),
    (AttestationResponse(b"\xaa"), "a1" + t("Attestation") + "a1" + t("document") + "41aa"),
    (
        DescribeNsmResponse(1, 0, 0, "m", 32, frozenset({0, 1}), Digest.SHA384),
        "a1" + t("DescribeNSM") + "a7" + t("version_major") + "01" + t("version_minor") + "00"
        + t("version_patch") + "00" + t("module_id") + t("m") + t("max_pcrs") + "1820"
        + t("locked_pcrs") + "820001" + t("digest") + t("SHA384"),
    ),  # fmt: skip
]


@pytest.mark.parametrize("response,hex_", RESPONSE_VECTORS, ids=lambda v: getattr(v, "WIRE", None))
def test_response_encoding_matches_nsm_api(response, hex_):
    assert encode_response(response).hex() == hex_
    assert decode_response(bytes.fromhex(hex_)) == response


@pytest.mark.parametrize(
    "hex_,message",
    [
        (t("Frobnicate"), "unknown variant"),
        ("a1" + t("DescribeNSM") + "f6", "wrong shape"),  # a unit variant written as a map
        (t("DescribePCR"), "wrong shape"),  # a struct variant written as its bare name
        ("a1" + t("DescribePCR") + "a1" + t("index") + "1a00010000", "16-bit"),
        ("a1" + t("DescribePCR") + "a1" + t("idx") + "00", "fields"),
        ("a1" + t("ExtendPCR") + "a2" + t("index") + "10" + t("data") + t("abc"), "byte string"),
        ("a1" + t("DescribePCR") + "a1" + t("index") + "0000", "trailing"),
        ("a2" + t("GetRandom") + "00" + t("DescribeNSM") + "00", "one-entry map"),
        ("a1" + t("DescribePCR"), "truncated"),
    ],
)
def test_malformed_requests_are_rejected(hex_, message):
    with pytest.raises(NsmProtocolError, match=message):
        decode_request(bytes.fromhex(hex_))


def test_unknown_error_code_is_rejected():
    with pytest.raises(NsmProtocolError, match="error code"):
        decode_response(bytes.fromhex("a1" + t("Error") + t("Oops")))


# --- simulated NSM ---------------------------------------------------------------------------


@pytest.fixture
def nsm(pki):
    return SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-sim-nsm", clock=clock_at())


def test_boot_pcrs(nsm):
    pcrs = measure(CONFIG).pcrs()
    for index in (0, 1, 2):
        assert nsm.describe_pcr(index) == DescribePcrResponse(lock=True, data=pcrs[index])
    assert nsm.describe_pcr(4).data == hashlib.sha384(bytes(48) + b"i-sim-nsm").digest()
    assert nsm.describe_pcr(3) == DescribePcrResponse(lock=True, data=bytes(48))
    assert nsm.describe_pcr(16) == DescribePcrResponse(lock=False, data=bytes(48))


def test_extend_then_lock(nsm):
    first = nsm.extend_pcr(16, b"one")
    assert first == hashlib.sha384(bytes(48) + b"one").digest()
    assert nsm.extend_pcr(16, b"two") == hashlib.sha384(first + b"two").digest()
    nsm.lock_pcr(16)
    with pytest.raises(NsmError, match="ReadOnlyIndex") as caught:
        nsm.extend_pcr(16, b"three")
    assert caught.value.code == "ReadOnlyIndex"
    assert nsm.describe_pcr(16).lock
    # A locked application PCR appears in attestation documents, an unlocked one does not.
    nsm.extend_pcr(17, b"x")
    assert sorted(decode_attestation(nsm.attestation())[1].pcrs) == list(range(17))


def test_platform_pcrs_are_read_only(nsm):
    with pytest.raises(NsmError, match="ReadOnlyIndex"):
        nsm.extend_pcr(0, b"rootkit")


def test_lock_pcrs_range(nsm):
    nsm.lock_pcrs(20)
    assert nsm.describe_nsm().locked_pcrs == frozenset(range(20))
    with pytest.raises(NsmError, match="InvalidIndex"):
        nsm.lock_pcrs(33)


@pytest.mark.parametrize("call", [lambda n: n.describe_pcr(32), lambda n: n.extend_pcr(32, b""), lambda n: n.lock_pcr(40)])
def test_invalid_index(nsm, call):
    with pytest.raises(NsmError, match="InvalidIndex"):
        call(nsm)


def test_describe_nsm(nsm):
    description = nsm.describe_nsm()
    assert description.module_id.startswith("SIMULATED-i-sim-nsm-enc")
    assert (description.max_pcrs, description.digest) == (32, Digest.SHA384)
    assert (description.version_major, description.version_minor, description.version_patch) == (1, 0, 0)


def test_get_random(nsm):
    first, second = nsm.get_random(), nsm.get_random()
    assert len(first) == 256 and first != second


@pytest.mark.parametrize("field,size", [("user_data", 513), ("nonce", 513), ("public_key", 1025), ("public_key", 0)])
def test_attestation_input_limits(nsm, field, size):
    with pytest.raises(NsmError, match="InputTooLarge"):
        nsm.attestation(**{field: bytes(size)})


def test_debug_nsm_reports_zero_measurement(pki):
    nsm = SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-dbg", debug=True, clock=clock_at())
    assert all(nsm.describe_pcr(i).data == bytes(48) for i in (0, 1, 2))


def test_garbage_request_bytes_get_an_error_response(nsm):
    assert decode_response(nsm.handle(b"\xff\x00")) == ErrorResponse(ErrorCode.INVALID_ARGUMENT)


# --- /dev/nsm through ioctl (with a fake device) ----------------------------------------------


def test_ioctl_request_code():
    assert ctypes.sizeof(NsmMessage) == 32  # two iovecs on a 64-bit platform
    assert NSM_IOCTL_REQUEST == 0xC0200A00  # _IOWR(0x0A, 0, struct nsm_message)


class FakeDevice:
    """Plays the NSM driver: reads the request iovec, writes a response and its length."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.requests: list[bytes] = []

    def ioctl(self, fd, code, message, mutate):
        assert (fd, code, mutate) == (7, NSM_IOCTL_REQUEST, True)
        assert message.response.iov_len == NSM_RESPONSE_MAX_SIZE
        self.requests.append(ctypes.string_at(message.request.iov_base, message.request.iov_len))
        ctypes.memmove(message.response.iov_base, self.response, len(self.response))
        message.response.iov_len = len(self.response)
        return 0


def _device(response: bytes) -> tuple[NitroNsm, FakeDevice]:
    device = FakeDevice(response)
    return NitroNsm("/dev/nsm-test", ioctl=device.ioctl, opener=lambda path, flags: 7), device


def test_nitro_nsm_sends_the_encoded_request_and_decodes_the_response():
    nsm, device = _device(encode_response(AttestationResponse(b"doc")))
    assert nsm.attestation(nonce=b"\x01\x02") == b"doc"
    assert device.requests == [bytes.fromhex(REQUEST_VECTORS[6][1])]


def test_nitro_nsm_error_response():
    nsm, _ = _device(encode_response(ErrorResponse(ErrorCode.READ_ONLY_INDEX)))
    with pytest.raises(NsmError, match="ReadOnlyIndex"):
        nsm.extend_pcr(0, b"x")


def test_nitro_nsm_mismatched_response():
    nsm, _ = _device(encode_response(AttestationResponse(b"doc")))
    with pytest.raises(NsmProtocolError, match="answered DescribePCR with Attestation"):
        nsm.describe_pcr(0)


def test_nitro_nsm_garbage_response():
    nsm, _ = _device(b"\xff\xff")
    with pytest.raises(NsmProtocolError):
        nsm.get_random()


def test_nitro_nsm_oversized_request():
    nsm, device = _device(b"")
    with pytest.raises(NsmProtocolError, match="4096"):
        nsm.extend_pcr(16, bytes(5000))
    assert device.requests == []


def test_nitro_nsm_device_errors():
    def no_device(path, flags):
        raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(NsmUnavailableError, match="cannot open"):
        NitroNsm("/dev/nsm-absent", opener=no_device)

    def failing(fd, code, message, mutate):
        raise OSError(5, "Input/output error")

    nsm = NitroNsm("/dev/nsm-test", ioctl=failing, opener=lambda path, flags: 7)
    with pytest.raises(NsmUnavailableError, match="ioctl"):
        nsm.get_random()


def test_nitro_nsm_absent_here():
    assert NitroNsm.available("/dev/nsm-definitely-absent") is False
