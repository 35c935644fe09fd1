"""Content-Digest (RFC 9530, section 2): a Structured Field Dictionary of digests of the body.

Accord accepts sha-256 and sha-512 only (the "Active" algorithms of the IANA registry). A
field naming any other algorithm is refused rather than partly checked: a digest Accord
cannot compute would otherwise be silently trusted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import http_sf

from accord.protocols.auth_errors import (
    ContentDigestMismatch,
    MalformedContentDigest,
    UnsupportedDigestAlgorithm,
)

ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}


def _algorithm(name: str) -> Callable[[bytes], Any]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise UnsupportedDigestAlgorithm(
            f"Content-Digest algorithm {name!r} is not supported (use one of {sorted(ALGORITHMS)})"
        ) from None


def create(body: bytes, algorithm: str = "sha-256") -> str:
    """The Content-Digest field value for `body`, e.g. `sha-256=:X48E...=:`."""
    return http_sf.ser({algorithm: _algorithm(algorithm)(body).digest()})


def _reject_duplicate(name: str, context: str) -> None:
    raise MalformedContentDigest(f"Content-Digest names algorithm {name!r} twice")


def parse(field_value: str) -> dict[str, bytes]:
    """Parse a Content-Digest field value into algorithm -> digest bytes.

    Every member must be a Byte Sequence without parameters, of a supported algorithm, and
    of that algorithm's digest length.
    """
    try:
        parsed = http_sf.parse(
            field_value.encode("ascii"), tltype="dictionary", on_duplicate_key=_reject_duplicate
        )
    except (UnicodeEncodeError, ValueError) as exc:  # StructuredFieldError is a ValueError
        raise MalformedContentDigest(f"Content-Digest is not a Structured Field Dictionary: {exc}") from exc
    if not parsed:
        raise MalformedContentDigest("Content-Digest is empty")
    digests: dict[str, bytes] = {}
    for name, (value, params) in parsed.items():
        hasher = _algorithm(name)
        if not isinstance(value, bytes):
            raise MalformedContentDigest(f"Content-Digest member {name!r} is not a Byte Sequence")
        if params:
            raise MalformedContentDigest(f"Content-Digest member {name!r} has parameters {sorted(params)}")
        if len(value) != hasher(b"").digest_size:
            raise MalformedContentDigest(
                f"Content-Digest {name} value is {len(value)} bytes, expected {hasher(b'').digest_size}"
            )
        digests[name] = value
    return digests


def verify(field_value: str, body: bytes) -> tuple[str, ...]:
    """Check every digest in `field_value` against `body`; return the algorithms checked."""
    digests = parse(field_value)
    for name, expected in digests.items():
        if not hmac.compare_digest(expected, ALGORITHMS[name](body).digest()):
            raise ContentDigestMismatch(f"the body does not match its Content-Digest ({name})")
    return tuple(digests)
