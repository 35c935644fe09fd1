"""Accord access tokens: compact JWS, header `{"alg":"EdDSA","kid":...,"typ":"at+jwt"}`,
signed 3-of-3 with FROST by the group key (a FROST aggregate is a plain Ed25519 signature).

Each evaluator builds the same bytes independently, so everything is deterministic: the
header and the claims are canonical JSON (RFC 8785), and

    signing_input(header, claims) = ASCII(b64url(header) "." b64url(claims))

is what every FROST signer signs; `assemble(signing_input, signature)` appends the aggregate.
A resource server verifies with any JOSE library and the JWKS; `verify_token` is Accord's own
check (joserfc for the signature), which also refuses `alg: none`, HMAC, other algorithms,
unknown kids and any `typ` but `at+jwt`.

Claims (RFC 9068 names where they exist; `cnf.jkt` per RFC 9449):

    {"action", "aud", "bundle", "cnf": {"jkt"}, "exp", "iat", "iss", "jti",
     "request_hash", "resource", "sub"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from accord.protocols import canonical_json
from accord.protocols.auth_errors import (
    MalformedJws,
    MalformedTokenClaims,
    TokenExpired,
    TokenNotYetValid,
    UnknownJwsKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from accord.protocols.jwk import b64url_encode, parse_jwks
from accord.protocols.jws_profile import check_algorithm, json_object, parse_compact, verify_compact

TOKEN_ALG = "EdDSA"
TOKEN_TYPE = "at+jwt"
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
_SIGNATURE_LENGTH = 64  # Ed25519


@dataclass(frozen=True)
class TokenClaims:
    """The claims of an access token. `cnf_jkt` is rendered as `"cnf": {"jkt": ...}`."""

    iss: str
    sub: str
    aud: str
    iat: int
    exp: int
    jti: str
    cnf_jkt: str  # RFC 7638 thumbprint of the key that signed the request
    request_hash: str  # AuthorizationRequest.request_hash(cnf_jkt)
    bundle: str  # digest of the active policy bundle
    action: str  # the authorized action ...
    resource: str  # ... on this resource

    def __post_init__(self) -> None:
        for name in _CLAIM_FIELDS:
            value = getattr(self, name)
            kind = int if name in ("iat", "exp") else str
            if type(value) is not kind:
                raise MalformedTokenClaims(f"claim {name!r} must be {kind.__name__}, got {type(value).__name__}")
            if kind is str and not value:
                raise MalformedTokenClaims(f"claim {name!r} must not be empty")
        if self.exp <= self.iat:
            raise MalformedTokenClaims(f"exp ({self.exp}) must be later than iat ({self.iat})")

    def to_dict(self) -> dict[str, Any]:
        # The fields are flat strings and ints: no deep copy (dataclasses.asdict) needed.
        claims = {name: getattr(self, name) for name in _CLAIM_FIELDS}
        claims["cnf"] = {"jkt": claims.pop("cnf_jkt")}
        return claims

    def to_json(self) -> bytes:
        """The canonical JSON claims, the token's payload."""
        return canonical_json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, claims: Mapping[str, Any]) -> TokenClaims:
        """Parse claims strictly: exactly the members above, `cnf` exactly `{"jkt": str}`."""
        expected = {f for f in _CLAIM_FIELDS if f != "cnf_jkt"} | {"cnf"}
        if not isinstance(claims, Mapping) or set(claims) != expected:
            got = sorted(claims) if isinstance(claims, Mapping) else type(claims).__name__
            raise MalformedTokenClaims(f"token claims must be exactly {sorted(expected)}, got {got}")
        cnf = claims["cnf"]
        if not isinstance(cnf, Mapping) or set(cnf) != {"jkt"}:
            raise MalformedTokenClaims('claim "cnf" must be {"jkt": <thumbprint>}')
        members = {k: v for k, v in claims.items() if k != "cnf"}
        return cls(**members, cnf_jkt=cnf["jkt"])


_CLAIM_FIELDS = tuple(f.name for f in fields(TokenClaims))


def token_header(kid: str) -> bytes:
    """The protected header as canonical JSON: {"alg":"EdDSA","kid":kid,"typ":"at+jwt"}."""
    return canonical_json.dumps({"alg": TOKEN_ALG, "kid": kid, "typ": TOKEN_TYPE})


def signing_input(header: bytes, claims: TokenClaims) -> bytes:
    """What the FROST signers sign: ASCII of b64url(header) "." b64url(canonical claims)."""
    return f"{b64url_encode(header)}.{b64url_encode(claims.to_json())}".encode("ascii")


def assemble(signing_input: bytes, signature: bytes) -> str:
    """The compact JWS: signing input "." b64url(64-byte Ed25519 signature)."""
    if len(signature) != _SIGNATURE_LENGTH:
        raise MalformedJws(f"an Ed25519 signature is {_SIGNATURE_LENGTH} bytes, got {len(signature)}")
    return f"{signing_input.decode('ascii')}.{b64url_encode(signature)}"


def verify_token(
    token: str,
    jwks: Mapping[str, Any],
    *,
    audience: str,
    issuer: str,
    now: int,
    leeway: int = 0,
) -> TokenClaims:
    """Verify an access token against the group key set `jwks` at time `now`.

    Raises JwsError (malformed, refused alg, unknown kid, bad signature) or TokenError
    (wrong typ, malformed claims, wrong iss/aud, expired, not yet valid).
    """
    parts = parse_compact(token)
    check_algorithm(parts.header, allowed={TOKEN_ALG})
    extra = set(parts.header) - _HEADER_MEMBERS
    if extra:
        raise MalformedJws(f"token header has members outside {sorted(_HEADER_MEMBERS)}: {sorted(extra)}")
    if parts.header.get("typ") != TOKEN_TYPE:
        raise WrongTokenType(f"token typ must be {TOKEN_TYPE!r}, got {parts.header.get('typ')!r}")
    kid = parts.header.get("kid")
    key = parse_jwks(jwks).get(kid) if isinstance(kid, str) else None
    if key is None:
        raise UnknownJwsKey(f"token kid {kid!r} is not in the key set")
    verified = verify_compact(token, key, allowed={TOKEN_ALG})
    claims = TokenClaims.from_dict(json_object(verified.payload, "token claims", MalformedTokenClaims))
    if claims.iss != issuer:
        raise WrongIssuer(f"token issuer {claims.iss!r} is not {issuer!r}")
    if claims.aud != audience:
        raise WrongAudience(f"token audience {claims.aud!r} is not {audience!r}")
    if now > claims.exp + leeway:
        raise TokenExpired(f"token expired at {claims.exp}, now is {now} (leeway {leeway} s)")
    if claims.iat > now + leeway:
        raise TokenNotYetValid(f"token issued at {claims.iat}, after now ({now}) plus leeway {leeway} s")
    return claims
