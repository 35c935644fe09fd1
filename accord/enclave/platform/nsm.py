"""The Nitro Secure Module (NSM) API: requests, responses, their CBOR encoding, the interface.

The wire shapes are those of the `aws-nitro-enclaves-nsm-api` crate (serde's externally
tagged enums): a request or response without fields is the bare variant name as a CBOR text
string (`"DescribeNSM"`), one with fields is a one-entry map from the variant name to a map
of its fields in declaration order (`{"DescribePCR": {"index": 0}}`), `Option` is CBOR null
when absent, byte vectors are CBOR byte strings, `BTreeSet<u16>` is an array, and the error
response is `{"Error": "<ErrorCode>"}`. Both backends (the real device and the simulator)
speak these bytes, so the simulator exercises the same encoding the device sees.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import cbor2

from accord.enclave.platform.errors import NsmError, NsmProtocolError
from accord.enclave.platform.strict_cbor import loads_exact

MAX_PCRS = 32


class ErrorCode(StrEnum):
    """`nsm_io::ErrorCode`."""

    SUCCESS = "Success"
    INVALID_ARGUMENT = "InvalidArgument"
    INVALID_INDEX = "InvalidIndex"
    INVALID_RESPONSE = "InvalidResponse"
    READ_ONLY_INDEX = "ReadOnlyIndex"
    INVALID_OPERATION = "InvalidOperation"
    BUFFER_TOO_SMALL = "BufferTooSmall"
    INPUT_TOO_LARGE = "InputTooLarge"
    INTERNAL_ERROR = "InternalError"


class Digest(StrEnum):
    """`nsm_io::Digest`: the hash of the PCR bank."""

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


# Field kinds of the wire schema: how each field is checked and converted on decode.
def _u16(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= 0xFFFF:
        raise NsmProtocolError(f"expected an unsigned 16-bit integer, got {value!r}")
    return value


def _bytes(value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise NsmProtocolError(f"expected a CBOR byte string, got {type(value).__name__}")
    return value


def _optional_bytes(value: Any) -> bytes | None:
    return None if value is None else _bytes(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise NsmProtocolError(f"expected a CBOR boolean, got {type(value).__name__}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise NsmProtocolError(f"expected a CBOR text string, got {type(value).__name__}")
    return value


def _u16_set(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise NsmProtocolError(f"expected a CBOR array, got {type(value).__name__}")
    return frozenset(_u16(item) for item in value)


def _digest(value: Any) -> Digest:
    try:
        return Digest(_text(value))
    except ValueError as exc:
        raise NsmProtocolError(f"unknown digest {value!r}") from exc


@dataclass(frozen=True)
class _Message:
    """A variant of `Request` or `Response`; `WIRE` is its serde name, `SCHEMA` its fields."""

    WIRE: ClassVar[str]
    SCHEMA: ClassVar[tuple[tuple[str, Any], ...]] = ()

    def to_wire(self) -> Any:
        if not self.SCHEMA:
            return self.WIRE  # a unit variant
        body = {}
        for name, _ in self.SCHEMA:
            value = getattr(self, name)
            body[name] = sorted(value) if isinstance(value, frozenset) else value
        return {self.WIRE: body}

    @classmethod
    def from_body(cls, body: Any) -> _Message:
        if not cls.SCHEMA:
            return cls()
        if not isinstance(body, dict):
            raise NsmProtocolError(f"{cls.WIRE} fields must be a CBOR map")
        expected = [name for name, _ in cls.SCHEMA]
        if not all(isinstance(name, str) for name in body) or set(body) != set(expected):
            raise NsmProtocolError(f"{cls.WIRE} has fields {sorted(map(repr, body))}, expected {expected}")
        try:
            return cls(**{name: kind(body[name]) for name, kind in cls.SCHEMA})
        except NsmProtocolError as exc:
            raise NsmProtocolError(f"{cls.WIRE}: {exc}") from exc


# --- requests (nsm_io::Request) ------------------------------------------------------------


@dataclass(frozen=True)
class DescribePcr(_Message):
    WIRE = "DescribePCR"
    SCHEMA = (("index", _u16),)
    index: int


@dataclass(frozen=True)
class ExtendPcr(_Message):
    WIRE = "ExtendPCR"
    SCHEMA = (("index", _u16), ("data", _bytes))
    index: int
    data: bytes


@dataclass(frozen=True)
class LockPcr(_Message):
    WIRE = "LockPCR"
    SCHEMA = (("index", _u16),)
    index: int


@dataclass(frozen=True)
class LockPcrs(_Message):
    """Lock PCRs [0, range)."""

    WIRE = "LockPCRs"
    SCHEMA = (("range", _u16),)
    range: int


@dataclass(frozen=True)
class DescribeNsm(_Message):
    WIRE = "DescribeNSM"


@dataclass(frozen=True)
class Attestation(_Message):
    WIRE = "Attestation"
    SCHEMA = (("user_data", _optional_bytes), ("nonce", _optional_bytes), ("public_key", _optional_bytes))
    user_data: bytes | None = None
    nonce: bytes | None = None
    public_key: bytes | None = None


@dataclass(frozen=True)
class GetRandom(_Message):
    WIRE = "GetRandom"


# --- responses (nsm_io::Response) ----------------------------------------------------------


@dataclass(frozen=True)
class DescribePcrResponse(_Message):
    WIRE = "DescribePCR"
    SCHEMA = (("lock", _bool), ("data", _bytes))
    lock: bool
    data: bytes


@dataclass(frozen=True)
class ExtendPcrResponse(_Message):
    WIRE = "ExtendPCR"
    SCHEMA = (("data", _bytes),)
    data: bytes


@dataclass(frozen=True)
class LockPcrResponse(_Message):
    WIRE = "LockPCR"


@dataclass(frozen=True)
class LockPcrsResponse(_Message):
    WIRE = "LockPCRs"


@dataclass(frozen=True)
class DescribeNsmResponse(_Message):
    WIRE = "DescribeNSM"
    SCHEMA = (
        ("version_major", _u16),
        ("version_minor", _u16),
        ("version_patch", _u16),
        ("module_id", _text),
        ("max_pcrs", _u16),
        ("locked_pcrs", _u16_set),
        ("digest", _digest),
    )
    version_major: int
    version_minor: int
    version_patch: int
    module_id: str
    max_pcrs: int
    locked_pcrs: frozenset[int]
    digest: Digest


@dataclass(frozen=True)
class AttestationResponse(_Message):
    WIRE = "Attestation"
    SCHEMA = (("document", _bytes),)
    document: bytes


@dataclass(frozen=True)
class GetRandomResponse(_Message):
    WIRE = "GetRandom"
    SCHEMA = (("random", _bytes),)
    random: bytes


@dataclass(frozen=True)
class ErrorResponse(_Message):
    """`Response::Error(ErrorCode)`: a newtype variant, so its body is the bare code."""

    WIRE = "Error"
    code: ErrorCode

    def to_wire(self) -> Any:
        return {self.WIRE: self.code.value}

    @classmethod
    def from_body(cls, body: Any) -> ErrorResponse:
        try:
            return cls(ErrorCode(_text(body)))
        except (ValueError, NsmProtocolError) as exc:
            raise NsmProtocolError(f"unknown NSM error code {body!r}") from exc


Request = DescribePcr | ExtendPcr | LockPcr | LockPcrs | DescribeNsm | Attestation | GetRandom
Response = (
    DescribePcrResponse
    | ExtendPcrResponse
    | LockPcrResponse
    | LockPcrsResponse
    | DescribeNsmResponse
    | AttestationResponse
    | GetRandomResponse
    | ErrorResponse
)

_REQUESTS = {cls.WIRE: cls for cls in (DescribePcr, ExtendPcr, LockPcr, LockPcrs, DescribeNsm, Attestation, GetRandom)}
_RESPONSES = {
    cls.WIRE: cls
    for cls in (
        DescribePcrResponse,
        ExtendPcrResponse,
        LockPcrResponse,
        LockPcrsResponse,
        DescribeNsmResponse,
        AttestationResponse,
        GetRandomResponse,
        ErrorResponse,
    )
}


def _encode(message: _Message) -> bytes:
    return cbor2.dumps(message.to_wire())


def _decode(data: bytes, variants: dict[str, type[_Message]], what: str) -> Any:
    item = loads_exact(data, NsmProtocolError, what)
    if isinstance(item, str):
        name, body = item, None
    elif isinstance(item, dict) and len(item) == 1:
        ((name, body),) = item.items()
    else:
        raise NsmProtocolError(f"{what} must be a variant name or a one-entry map")
    cls = variants.get(name) if isinstance(name, str) else None
    if cls is None:
        raise NsmProtocolError(f"{what} has unknown variant {name!r}")
    # serde writes a unit variant as its bare name and any other variant as a map: no mixing.
    if isinstance(item, str) != (not cls.SCHEMA and cls is not ErrorResponse):
        raise NsmProtocolError(f"{what} {name} has the wrong shape")
    return cls.from_body(body)


def encode_request(request: Request) -> bytes:
    """CBOR bytes of a request, as `serde_cbor::to_vec(&Request)` produces them."""
    return _encode(request)


def decode_request(data: bytes) -> Request:
    """Parse request bytes (what the device receives)."""
    return _decode(data, _REQUESTS, "NSM request")


def encode_response(response: Response) -> bytes:
    """CBOR bytes of a response."""
    return _encode(response)


def decode_response(data: bytes) -> Response:
    """Parse response bytes (what the device returns)."""
    return _decode(data, _RESPONSES, "NSM response")


class Nsm(abc.ABC):
    """The NSM interface. Backends implement `process`; the typed calls live here."""

    @abc.abstractmethod
    def process(self, request: Request) -> Response:
        """Send one request and return its response (an `ErrorResponse` on refusal)."""

    def _call(self, request: Request, expected: type[_Message]) -> Any:
        response = self.process(request)
        if isinstance(response, ErrorResponse):
            raise NsmError(response.code.value, f"NSM refused {request.WIRE}: {response.code.value}")
        if not isinstance(response, expected):
            raise NsmProtocolError(f"NSM answered {request.WIRE} with {response.WIRE}")
        return response

    def describe_pcr(self, index: int) -> DescribePcrResponse:
        """Current value and lock state of PCR `index`."""
        return self._call(DescribePcr(index), DescribePcrResponse)

    def extend_pcr(self, index: int, data: bytes) -> bytes:
        """Extend PCR `index` with `data`; returns the new value."""
        return self._call(ExtendPcr(index, data), ExtendPcrResponse).data

    def lock_pcr(self, index: int) -> None:
        """Make PCR `index` read-only."""
        self._call(LockPcr(index), LockPcrResponse)

    def lock_pcrs(self, range: int) -> None:  # noqa: A002 - the API's field name
        """Make PCRs [0, range) read-only."""
        self._call(LockPcrs(range), LockPcrsResponse)

    def describe_nsm(self) -> DescribeNsmResponse:
        """Version, module id, PCR count, locked PCRs and digest of the module."""
        return self._call(DescribeNsm(), DescribeNsmResponse)

    def get_random(self) -> bytes:
        """Entropy from the module."""
        return self._call(GetRandom(), GetRandomResponse).random

    def attestation(
        self, *, user_data: bytes | None = None, nonce: bytes | None = None, public_key: bytes | None = None
    ) -> bytes:
        """A signed attestation document (COSE_Sign1 bytes) carrying the given fields."""
        request = Attestation(user_data=user_data, nonce=nonce, public_key=public_key)
        return self._call(request, AttestationResponse).document

    def pcrs(self, indices: range | tuple[int, ...] = tuple(range(3))) -> dict[int, bytes]:
        """Values of the PCRs `indices` (default PCR0..2, the code measurement)."""
        return {index: self.describe_pcr(index).data for index in indices}

