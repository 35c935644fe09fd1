"""Errors of the request-authentication protocols: JWK, Content-Digest, HTTP message
signatures, the replay cache, authorization requests, approvals, JWS and access tokens.

The classes are grouped by what a front end does with them: every `SignatureError` means
"the request is not authenticated" (HTTP 401), a `ReplayError` means "seen before or cannot
be checked" (409), an `AuthorizationRequestError` means "malformed body" (400).
"""

from __future__ import annotations

from accord.errors import AccordError

# --- JWK (RFC 7517 / 7638 / 8037) -------------------------------------------------------


class JwkError(AccordError):
    """A JSON Web Key or key set is invalid or unusable for Accord."""


class InvalidJwk(JwkError):
    """A JWK is malformed: missing or ill-typed members, bad encoding, point not on curve."""


class UnsupportedKeyType(JwkError):
    """A JWK has a key type or curve outside Accord's profile (Ed25519, P-256)."""


class PrivateKeyMaterial(JwkError):
    """A private member ("d") appeared where only a public key is allowed."""


class KeyFileError(JwkError):
    """A key file cannot be written (exists) or read."""


# --- HTTP message signatures (RFC 9421) and Content-Digest (RFC 9530) ----------------------


class InvalidHttpMessage(AccordError):
    """An HttpRequest/HttpResponse cannot be built: bad method, URL, header name or value."""


class SignatureError(AccordError):
    """The request's HTTP message signature does not authenticate it."""


class MissingSignature(SignatureError):
    """The request carries no Signature-Input or no Signature field."""


class MalformedSignatureHeader(SignatureError):
    """Signature-Input or Signature is not valid for RFC 9421 or Accord's profile."""


class OutsideProfile(MalformedSignatureHeader):
    """Valid RFC 9421, perhaps, but not in the form Accord's profile verifies (refused, never
    passed to a more general verifier)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the signature is not in Accord's profile: {what}")


class MissingSignatureParameter(MalformedSignatureHeader):
    """A signature parameter Accord requires (created, expires, nonce, keyid) is absent."""


class MissingCoveredComponent(SignatureError):
    """The signature does not cover a component Accord requires."""


class UnresolvableComponent(SignatureError):
    """A covered component cannot be taken from the message (e.g. the header is absent)."""


class UnknownKey(SignatureError):
    """The keyid names no known key, or the resolver returned a key with another thumbprint."""


class UnsupportedAlgorithm(SignatureError):
    """The algorithm is not one the library implements (or not in Accord's profile)."""


class AlgorithmMismatch(SignatureError):
    """The signature's `alg` parameter, or the key's type, disagrees with the key's algorithm."""


class BadSignature(SignatureError):
    """The signature bytes do not verify over the signature base with the resolved key."""


class CreatedInFuture(SignatureError):
    """`created` is later than now plus the allowed skew."""



class Expired(SignatureError):
    """`expires` is earlier than now minus the allowed skew."""


class ExpiresTooFar(SignatureError):
    """`expires` is further after `created` than the profile allows."""


class SigningError(AccordError):
    """A request cannot be signed as asked (missing header, bad parameters)."""


class ContentDigestError(SignatureError):
    """A Content-Digest field (RFC 9530) is unusable or does not match the body.

    A subclass of SignatureError: in Accord a digest only matters as part of a signed request.
    """


class MalformedContentDigest(ContentDigestError):
    """Content-Digest is not a Dictionary of byte sequences of the right lengths."""


class UnsupportedDigestAlgorithm(ContentDigestError):
    """Content-Digest names an algorithm other than sha-256 or sha-512."""


class ContentDigestMismatch(ContentDigestError):
    """The body does not hash to the value in Content-Digest."""


# --- Replay cache ------------------------------------------------------------------------


class ReplayError(AccordError):
    """A nonce cannot be accepted."""


class ReplayedNonce(ReplayError):
    """This nonce was already accepted for this key within its window."""


class ReplayWindowPassed(ReplayError):
    """The nonce's window already ended, so the cache can no longer tell whether it is fresh."""


class ReplayCacheFull(ReplayError):
    """The cache is at capacity; it refuses rather than forgetting a live nonce."""


# --- Authorization request body ------------------------------------------------------------


class AuthorizationRequestError(AccordError):
    """The authorization request body is malformed."""


class MalformedRequestBody(AuthorizationRequestError):
    """The body is not a strict JSON object."""


class UnknownField(AuthorizationRequestError):
    """The body has a member the request format does not define."""


class MissingField(AuthorizationRequestError):
    """A required member is absent."""


class WrongFieldType(AuthorizationRequestError):
    """A member has the wrong JSON type."""


class InvalidFieldValue(AuthorizationRequestError):
    """A member has the right type but a value outside the allowed range."""


# --- JWS (RFC 7515), shared by approvals and tokens ----------------------------------------


class JwsError(AccordError):
    """A compact JWS is unusable."""


class MalformedJws(JwsError):
    """Not three base64url segments, or a header/payload that is not a strict JSON object."""


class JwsAlgorithmRefused(JwsError):
    """`alg` is none, symmetric (HS*), or otherwise outside the allowed set."""


class JwsAlgorithmMismatch(JwsError):
    """`alg` is allowed but does not fit the key (e.g. ES256 header, Ed25519 key)."""


class UnknownJwsKey(JwsError):
    """The `kid` names no key in the key set or resolver."""


class BadJwsSignature(JwsError):
    """The JWS signature does not verify with the named key."""


# --- Approvals -----------------------------------------------------------------------------


class ApprovalError(AccordError):
    """An approval's claims do not approve this request."""


class MalformedApproval(ApprovalError):
    """Approval claims are missing, ill-typed or unknown."""


class ApprovalForOtherRequest(ApprovalError):
    """The approval is bound to a different request hash."""


class ApprovalKeyMismatch(ApprovalError):
    """The `approver_key` claim differs from the key that signed the approval."""


class ApprovalExpired(ApprovalError):
    """The approval is older than the allowed maximum age."""


class ApprovalFromFuture(ApprovalError):
    """The approval's `iat` is later than now plus the allowed skew."""


class DuplicateApproval(ApprovalError):
    """The same approver's key appears twice in one request."""


# --- Access tokens -------------------------------------------------------------------------


class TokenError(AccordError):
    """An access token's header or claims are not acceptable."""


class WrongTokenType(TokenError):
    """The JWS header `typ` is not `at+jwt`."""


class MalformedTokenClaims(TokenError):
    """Claims are missing, ill-typed, unknown or inconsistent."""


class WrongIssuer(TokenError):
    """`iss` is not the expected issuer."""


class WrongAudience(TokenError):
    """`aud` is not the expected audience."""


class TokenExpired(TokenError):
    """`exp` is earlier than now minus the leeway."""


class TokenNotYetValid(TokenError):
    """`iat` is later than now plus the leeway."""
