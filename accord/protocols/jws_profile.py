"""Accord's JWS profile (RFC 7515 compact serialization) on top of joserfc.

Only asymmetric signatures with the key kinds of `jwk.KeyKind`: `EdDSA` with an Ed25519 key
and `ES256` with a P-256 key. `none` and every HMAC algorithm are refused before any key is
looked at, and the header's `alg` must be the key's algorithm, so neither a header nor a key
set can pick the algorithm (no alg-none, no HS256-with-a-public-key confusion).

Headers and payloads are parsed strictly (duplicate members refused) before joserfc sees
the token, so Accord and joserfc read the same bytes the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwa import EdDSAAlgorithm

from accord.errors import AccordError
from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    BadJwsSignature,
    InvalidJwk,
    JwsAlgorithmMismatch,
    JwsAlgorithmRefused,
    MalformedJws,
)
from accord.protocols.jwk import PublicJwk, SigningKey, b64url_decode, b64url_encode

ALLOWED_ALGORITHMS = frozenset({"EdDSA", "ES256"})
MAX_TOKEN_LENGTH = 16_384


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 deprecates "EdDSA" for the fully specified "Ed25519"; Accord keeps "EdDSA"
    # (what resource servers' JOSE libraries accept today) and pins the curve via the key.
    security_warning = None


class _Registry(jws.JWSRegistry):
    """A registry that knows only Accord's two algorithms, whatever else joserfc registers."""

    algorithms = {"EdDSA": _EdDSA(), "ES256": jws.JWSRegistry.algorithms["ES256"]}


@dataclass(frozen=True)
class CompactJws:
    """The parts of a compact JWS (not yet verified unless returned by `verify_compact`)."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes  # ASCII: b64url(header) "." b64url(payload)
    signature: bytes


def json_object(data: bytes, what: str, error: type[AccordError] = MalformedJws) -> dict[str, Any]:
    """Parse `data` as one strict JSON object (duplicate members refused), else raise `error`."""
    try:
        value = canonical_json.loads(data)
    except (canonical_json.CanonicalJsonError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not strict JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise error(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def parse_compact(token: str) -> CompactJws:
    """Split and decode a compact JWS without verifying it."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedJws(f"a compact JWS must be a string of at most {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJws(f"a compact JWS has 3 dot-separated parts, got {len(parts)}")
    try:
        header_raw, payload, signature = (b64url_decode(p, f"JWS part {i}") for i, p in enumerate(parts))
    except InvalidJwk as exc:  # b64url_decode's error names the part
        raise MalformedJws(str(exc)) from exc
    header = json_object(header_raw, "JWS header")
    if not isinstance(header.get("alg"), str):
        raise MalformedJws("JWS header has no string 'alg'")
    return CompactJws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def check_algorithm(header: dict[str, Any], allowed: Collection[str] = ALLOWED_ALGORITHMS) -> str:
    """The header's alg if it is allowed; refuse none, HMAC and anything else by name."""
    alg = header.get("alg")
    if alg == "none":
        raise JwsAlgorithmRefused("alg 'none' (unsigned JWS) is refused")
    if isinstance(alg, str) and alg.upper().startswith("HS"):
        raise JwsAlgorithmRefused(f"symmetric alg {alg!r} is refused: Accord uses public-key signatures only")
    if alg not in allowed or alg not in ALLOWED_ALGORITHMS:
        raise JwsAlgorithmRefused(f"alg {alg!r} is refused; allowed: {sorted(set(allowed) & ALLOWED_ALGORITHMS)}")
    return alg


def verify_compact(token: str, key: PublicJwk, *, allowed: Collection[str] = ALLOWED_ALGORITHMS) -> CompactJws:
    """Verify `token` with `key` (joserfc does the cryptography); return its parts."""
    parts = parse_compact(token)
    alg = check_algorithm(parts.header, allowed)
    if alg != key.jws_alg:
        raise JwsAlgorithmMismatch(f"JWS alg {alg!r} does not fit the {key.crv} key (expects {key.jws_alg})")
    try:
        jws.deserialize_compact(token, key.jose_key(), registry=_Registry(algorithms=[alg]))
    except BadSignatureError as exc:
        raise BadJwsSignature(f"the JWS signature does not verify with key {key.thumbprint}") from exc
    except (JoseError, ValueError) as exc:
        raise MalformedJws(f"joserfc refused the JWS: {exc}") from exc
    return parts


def sign_compact(header: dict[str, Any], payload: bytes, key: SigningKey) -> str:
    """Sign `payload` as a compact JWS with `key`; `header["alg"]` must be the key's alg.

    The header is serialized as canonical JSON here (joserfc signs the input we give it).
    """
    if header.get("alg") != key.public.jws_alg:
        raise JwsAlgorithmMismatch(f"header alg {header.get('alg')!r} does not fit a {key.public.crv} key")
    signing_input = f"{b64url_encode(canonical_json.dumps(header))}.{b64url_encode(payload)}".encode("ascii")
    algorithm = _Registry.algorithms[key.public.jws_alg]
    signature = algorithm.sign(signing_input, key.jose_key())
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"
