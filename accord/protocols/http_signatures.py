"""HTTP Message Signatures (RFC 9421) on top of the `http-message-signatures` package.

The package builds the signature base and runs the cryptography; nothing here rebuilds it.
This module adds two things:

- Neutral message types (`HttpRequest`, `HttpResponse`) usable without a network, and the RFC
  layer over them for every algorithm the package has: `signature_base`, `sign_message`,
  `verify_message`. The RFC 9421 Appendix B vectors run against this layer.
- Accord's profile (`sign_request`, `verify_request`), as the reference for the hot path's
  direct implementation (`signature_profile`, which Accord runs): one signature per request, covering at
  least `@method`, `@target-uri`, `content-type`, `content-digest` (and `authorization` when
  the request carries one); parameters `created`, `expires` (at most `MAX_LIFETIME` after
  `created`), `nonce` and `keyid` = RFC 7638 thumbprint of the signer's JWK; algorithms
  ed25519 and ecdsa-p256-sha256, taken from the key, never from the message. Times are
  checked against a `now` the caller passes in (the request-assigned time), never the clock,
  so every evaluator decides the same. Replay is the caller's next step (`replay.ReplayCache`).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import cryptography.exceptions
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_sf.compat import Dictionary, InnerList, Item

from accord.protocols import content_digest
from accord.protocols.auth_errors import (
    AlgorithmMismatch,
    BadSignature,
    CreatedInFuture,
    Expired,
    ExpiresTooFar,
    InvalidHttpMessage,
    MalformedSignatureHeader,
    MissingCoveredComponent,
    MissingSignature,
    MissingSignatureParameter,
    SigningError,
    UnknownKey,
    UnresolvableComponent,
    UnsupportedAlgorithm,
)
from accord.protocols.jwk import PublicJwk, SigningKey
from accord.protocols.signature_fields import parse_dictionary

# --- messages ------------------------------------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field-name / method token
_BAD_VALUE_CHARS = re.compile(r"[\x00\r\n]")


def _check_fields(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    lines = tuple(headers)
    for line in lines:
        if not isinstance(line, tuple | list) or len(line) != 2 or not all(isinstance(p, str) for p in line):
            raise InvalidHttpMessage(f"a header field line must be a (name, value) pair of str, got {line!r}")
        name, value = line
        if not _TOKEN.fullmatch(name):
            raise InvalidHttpMessage(f"invalid header field name {name!r}")
        if _BAD_VALUE_CHARS.search(value):
            raise InvalidHttpMessage(f"header field {name!r} contains CR, LF or NUL")
    return tuple((name, value) for name, value in lines)


class _HeaderAccess:
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """All field lines named `name` (case-insensitive), combined as RFC 9110 section 5.3
        and RFC 9421 section 2.1 do; None when absent."""
        values = [v.strip(" \t") for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    def with_header(self, name: str, value: str):
        """A copy with every `name` line replaced by one line `name: value`."""
        kept = tuple((n, v) for n, v in self.headers if n.lower() != name.lower())
        return dataclasses.replace(self, headers=kept + ((name, value),))  # type: ignore[type-var]


@dataclass(frozen=True)
class HttpRequest(_HeaderAccess):
    """An HTTP request as Accord signs and verifies it: absolute URL, ordered field lines."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not _TOKEN.fullmatch(self.method) or self.method != self.method.upper():
            raise InvalidHttpMessage(f"HTTP method must be an uppercase token, got {self.method!r}")
        if not isinstance(self.url, str):
            raise InvalidHttpMessage("url must be a str")
        if not isinstance(self.body, bytes):
            raise InvalidHttpMessage(f"body must be bytes, got {type(self.body).__name__}")
        object.__setattr__(self, "headers", _check_fields(self.headers))


@dataclass(frozen=True)
class HttpResponse(_HeaderAccess):
    """An HTTP response and the request it answers (for `req`-qualified components)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    request: HttpRequest | None = None

    def __post_init__(self) -> None:
        if type(self.status) is not int or not 100 <= self.status <= 999:
            raise InvalidHttpMessage(f"status must be a three-digit int, got {self.status!r}")
        object.__setattr__(self, "headers", _check_fields(self.headers))


HttpMessage = HttpRequest | HttpResponse


class _FieldLines:
    """The header interface the library reads and writes, over an ordered list of lines."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self.lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self.lines)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self.lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self.lines)

    def __setitem__(self, name: str, value: str) -> None:
        if name in self:
            del self[name]
        self.lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self.lines = [(n, v) for n, v in self.lines if n.lower() != name.lower()]


class _RequestView:
    def __init__(self, request: HttpRequest) -> None:
        self.method = request.method
        self.url = request.url
        self.headers = _FieldLines(request.headers)


class _ResponseView:
    def __init__(self, response: HttpResponse) -> None:
        self.status_code = response.status
        self.headers = _FieldLines(response.headers)
        self.request = None if response.request is None else _RequestView(response.request)


def _view(message: HttpMessage) -> _RequestView | _ResponseView:
    return _RequestView(message) if isinstance(message, HttpRequest) else _ResponseView(message)


# --- RFC 9421 layer ------------------------------------------------------------------------

ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    cls.algorithm_id: cls
    for cls in (
        algorithms.RSA_PSS_SHA512,
        algorithms.RSA_V1_5_SHA256,
        algorithms.HMAC_SHA256,
        algorithms.ECDSA_P256_SHA256,
        algorithms.ECDSA_P384_SHA384,
        algorithms.ED25519,
    )
}
# Fixed signature sizes (RFC 9421 section 3.3), checked before any cryptography runs.
_SIGNATURE_LENGTH = {"ed25519": 64, "ecdsa-p256-sha256": 64, "ecdsa-p384-sha384": 96, "hmac-sha256": 32}
# RFC 9421 section 2.3 parameters and their types; anything else in Signature-Input is refused.
_PARAM_TYPES = {"alg": str, "created": int, "expires": int, "keyid": str, "nonce": str, "tag": str}


@dataclass(frozen=True)
class SignatureParams:
    """The signature parameters Accord's signer writes, in the library's order
    (created, keyid, expires, nonce, tag); `alg` is not written: the key determines it."""

    created: int
    keyid: str
    expires: int | None = None
    nonce: str | None = None
    tag: str | None = None


def _algorithm(alg: str) -> type[algorithms.HTTPSignatureAlgorithm]:
    try:
        return ALGORITHMS[alg]
    except KeyError:
        known = sorted(ALGORITHMS)
        raise UnsupportedAlgorithm(f"{alg!r} is not an HTTP signature algorithm (known: {known})") from None


class _OneKey(HTTPSignatureKeyResolver):
    """Resolves exactly the keyid the caller already looked up, to that key."""

    def __init__(self, keyid: str, key: Any) -> None:
        self._keyid = keyid
        self._key = key

    def resolve_public_key(self, key_id: str) -> Any:
        return self._key if key_id == self._keyid else None

    def resolve_private_key(self, key_id: str) -> Any:
        if key_id != self._keyid:
            raise SigningError(f"no signing key for keyid {key_id!r}")
        return self._key


def _utc(ts: int | None) -> datetime.datetime | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)


def _sign_args(
    message: HttpMessage, covered_components: Sequence[str], params: SignatureParams, label: str
) -> dict[str, Any]:
    return {
        # The digest is Accord's business (sign_request); the library must only keep it.
        "use_existing_digest": message.header("content-digest") is not None,
        "key_id": params.keyid,
        "created": _utc(params.created),
        "expires": _utc(params.expires),
        "nonce": params.nonce,
        "tag": params.tag,
        "label": label,
        "include_alg": False,
        "covered_component_ids": tuple(covered_components),
    }


def signature_base(
    message: HttpMessage,
    *,
    alg: str,
    covered_components: Sequence[str],
    params: SignatureParams,
    label: str = "sig",
) -> bytes:
    """The RFC 9421 section 2.5 signature base the signer would sign (built by the library)."""
    signer = HTTPMessageSigner(signature_algorithm=_algorithm(alg))
    try:
        return signer.prepare(_view(message), **_sign_args(message, covered_components, params, label)).signature_base
    except HTTPMessageSignaturesException as exc:
        raise SigningError(f"cannot build the signature base: {exc}") from exc


def sign_message(
    message: HttpMessage,
    *,
    alg: str,
    key: Any,
    covered_components: Sequence[str],
    params: SignatureParams,
    label: str = "sig",
) -> HttpMessage:
    """A copy of `message` with Signature-Input and Signature fields (replacing any).

    `key` is what the library takes for `alg`: a `cryptography` private key or PEM bytes, or
    the shared secret bytes for hmac-sha256.
    """
    view = _view(message)
    signer = HTTPMessageSigner(signature_algorithm=_algorithm(alg), key_resolver=_OneKey(params.keyid, key))
    try:
        signer.sign(view, **_sign_args(message, covered_components, params, label))
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise SigningError(f"cannot sign the message: {exc}") from exc
    return dataclasses.replace(message, headers=tuple(view.headers.lines))


@dataclass(frozen=True)
class _SignatureFields:
    """The one signature of a message, as parsed from Signature-Input and Signature, and
    both fields as parsed (field value -> http_sf Dictionary) for the library's verifier."""

    label: str
    components: tuple[tuple[str, dict[str, Any]], ...]
    params: dict[str, Any]
    signature: bytes
    parsed: tuple[tuple[str, dict[str, Any]], ...]


def _reject_duplicate(name: str, context: str) -> None:
    if context == "dictionary":
        raise MalformedSignatureHeader(f"signature label {name!r} appears twice")


def _parse_dictionary(message: HttpMessage, field: str) -> tuple[str, dict[str, Any]]:
    value = message.header(field)
    if value is None:
        raise MissingSignature(f"the message has no {field} field")
    try:
        return value, parse_dictionary(value, on_duplicate_key=_reject_duplicate)
    except (UnicodeEncodeError, ValueError) as exc:
        raise MalformedSignatureHeader(f"{field} is not a Structured Field Dictionary: {exc}") from exc


def _read_signature(message: HttpMessage) -> _SignatureFields:
    """Parse the message's single signature, checking the RFC 9421 structure strictly."""
    inputs_field, inputs = _parse_dictionary(message, "Signature-Input")
    signatures_field, signatures = _parse_dictionary(message, "Signature")
    if set(inputs) != set(signatures):
        raise MalformedSignatureHeader(
            f"Signature-Input labels {sorted(inputs)} differ from Signature labels {sorted(signatures)}"
        )
    if len(inputs) != 1:
        raise MalformedSignatureHeader(f"exactly one signature is required, found labels {sorted(inputs)}")
    (label,) = inputs
    members, params = inputs[label]
    if not isinstance(members, list):
        raise MalformedSignatureHeader(f"Signature-Input {label!r} must be an Inner List of component ids")
    if any(type(value) is not str for value, _ in members):
        raise MalformedSignatureHeader(f"Signature-Input {label!r} has a component id that is not a String")
    identities = [(value, frozenset(p.items())) for value, p in members]
    if len(set(identities)) != len(identities):
        raise MalformedSignatureHeader(f"Signature-Input {label!r} names a component twice")
    unknown = set(params) - set(_PARAM_TYPES)
    if unknown:
        raise MalformedSignatureHeader(f"Signature-Input {label!r} has unknown parameters {sorted(unknown)}")
    for name, value in params.items():
        if type(value) is not _PARAM_TYPES[name]:
            kind = "an Integer" if _PARAM_TYPES[name] is int else "a String"
            raise MalformedSignatureHeader(f"signature parameter {name!r} must be {kind}")
    signature, sig_params = signatures[label]
    if not isinstance(signature, bytes) or sig_params:
        raise MalformedSignatureHeader(f"Signature {label!r} must be a Byte Sequence without parameters")
    return _SignatureFields(label, tuple((v, dict(p)) for v, p in members), dict(params), signature,
                            ((inputs_field, inputs), (signatures_field, signatures)))  # fmt: skip


def _library_dictionary(parsed: dict[str, Any]) -> Dictionary:
    """An http_sf parse result as the library's own parser presents it (compat nodes)."""
    result = Dictionary()
    for label, (member, params) in parsed.items():
        if isinstance(member, list):
            node: Item | InnerList = InnerList()
            for value, item_params in member:
                item = Item(value)
                item.params.update(item_params)
                node.append(item)
        else:
            node = Item(member)
        node.params.update(params)
        result[label] = node
    return result


class _AccordVerifier(HTTPMessageVerifier):
    """The library's verifier (it builds the signature base and verifies), with two changes:

    - created/expires: the library checks them against the wall clock; Accord checks them
      against the request-assigned time (so evaluators agree), before the library runs;
    - Signature-Input and Signature: the library would parse them again; it gets the
      dictionaries Accord already parsed from the very same field values (any other value
      is parsed by the library as usual).
    """

    def __init__(self, *, parsed: tuple[tuple[str, dict[str, Any]], ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parsed = dict(parsed)

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        return None

    def _parse_signature_dictionary(self, value: str) -> Dictionary:  # type: ignore[override]
        parsed = self._parsed.get(value)
        if parsed is None:
            return super()._parse_signature_dictionary(value)
        return _library_dictionary(parsed)


def _verify(message: HttpMessage, fields: _SignatureFields, *, alg: str, keyid: str, key: Any) -> dict[str, str]:
    algorithm = _algorithm(alg)
    if fields.params.get("alg", alg) != alg:
        raise AlgorithmMismatch(f"signature names alg {fields.params['alg']!r} but the key is for {alg!r}")
    if fields.params.get("keyid") != keyid:
        raise UnknownKey(f"signature keyid {fields.params.get('keyid')!r} is not {keyid!r}")
    expected = _SIGNATURE_LENGTH.get(alg)
    if expected is not None and len(fields.signature) != expected:
        raise BadSignature(f"{alg} signature must be {expected} bytes, got {len(fields.signature)}")
    try:
        algorithm(public_key=key)
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise AlgorithmMismatch(f"the key does not fit {alg}: {exc}") from exc
    verifier = _AccordVerifier(signature_algorithm=algorithm, key_resolver=_OneKey(keyid, key), parsed=fields.parsed)
    try:
        (result,) = verifier.verify(_view(message), max_age=None)
    except InvalidSignature as exc:
        if isinstance(exc.__cause__, cryptography.exceptions.InvalidSignature):
            raise BadSignature(f"the {alg} signature {fields.label!r} does not verify with key {keyid!r}") from exc
        raise UnresolvableComponent(f"signature {fields.label!r} cannot be checked: {exc}") from exc
    return dict(result.covered_components)


def verify_message(message: HttpMessage, *, alg: str, keyid: str, key: Any) -> dict[str, str]:
    """Verify the message's one signature, made by `keyid` with `key` under `alg`.

    Returns the covered component values by serialized id (e.g. `'"@method"': "POST"`),
    including `'"@signature-params"'`. `key` is a `cryptography` public key or PEM bytes, or
    the shared secret for hmac-sha256. `created`/`expires` are NOT checked here: that needs a
    clock, which is the caller's (see `verify_request`).
    """
    return _verify(message, _read_signature(message), alg=alg, keyid=keyid, key=key)


# --- Accord's profile ----------------------------------------------------------------------

REQUIRED_COMPONENTS: tuple[str, ...] = ("@method", "@target-uri", "content-type", "content-digest")
MAX_LIFETIME = 300  # seconds from created to expires (issue 6)
DEFAULT_LIFETIME = 60
DEFAULT_SKEW = 30
MIN_NONCE_LENGTH = 16  # a short nonce only endangers its own key; the floor catches mistakes
MAX_NONCE_LENGTH = 128  # bounds what the replay cache stores per entry
DEFAULT_LABEL = "accord"
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url SHA-256, RFC 7638


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified request proves: who signed (keyid = jkt), when, which nonce, what."""

    keyid: str
    jkt: str  # RFC 7638 thumbprint of the signer's key; equals keyid in Accord's profile
    alg: str  # from the key, not from the message
    created: int
    expires: int
    nonce: str
    covered_components: tuple[str, ...]  # serialized ids in signed order, e.g. '"@method"'
    method: str  # signed @method
    target_uri: str  # signed @target-uri
    label: str


def components_for(request: HttpRequest, extra: Sequence[str]) -> tuple[str, ...]:
    """The components Accord's profile covers for `request`, in signed order."""
    auth = ("authorization",) if request.header("authorization") is not None else ()
    return tuple(dict.fromkeys((*REQUIRED_COMPONENTS, *auth, *extra)))


def check_nonce(nonce: Any, error: type[Exception]) -> str:
    """`nonce` if it is a string of the profile's length, else `error`."""
    if not isinstance(nonce, str) or not MIN_NONCE_LENGTH <= len(nonce) <= MAX_NONCE_LENGTH:
        raise error(f"nonce must be a string of {MIN_NONCE_LENGTH}..{MAX_NONCE_LENGTH} characters")
    return nonce


def sign_request(
    request: HttpRequest,
    key: SigningKey,
    *,
    created: int,
    expires: int | None = None,
    nonce: str | None = None,
    digest_algorithm: str = "sha-256",
    extra_components: Sequence[str] = (),
    label: str = DEFAULT_LABEL,
) -> HttpRequest:
    """Sign `request` per Accord's profile; return it with Content-Digest, Signature-Input
    and Signature. An existing Content-Digest must match the body. `expires` defaults to
    `created + DEFAULT_LIFETIME`; `nonce` to 32 random base64url characters."""
    expires = created + DEFAULT_LIFETIME if expires is None else expires
    if not 0 < expires - created <= MAX_LIFETIME:
        raise SigningError(f"expires must be 1..{MAX_LIFETIME} s after created, got {expires - created}")
    nonce = check_nonce(secrets.token_urlsafe(24) if nonce is None else nonce, SigningError)
    existing = request.header("content-digest")
    if existing is None:
        request = request.with_header("Content-Digest", content_digest.create(request.body, digest_algorithm))
    else:
        content_digest.verify(existing, request.body)
    signed = sign_message(
        request,
        alg=key.public.http_signature_alg,
        key=key.crypto_key(),
        covered_components=components_for(request, extra_components),
        params=SignatureParams(created=created, keyid=key.thumbprint, expires=expires, nonce=nonce),
        label=label,
    )
    return cast(HttpRequest, signed)


def _required_param(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        raise MissingSignatureParameter(f"Accord requires the signature parameter {name!r}")
    return params[name]


@dataclass(frozen=True)
class SignatureInput:
    """A request's signature parameters after the checks that need no key (`precheck_request`)."""

    keyid: str
    created: int
    expires: int
    nonce: str
    components: tuple[str, ...]  # covered component ids, in signed order, e.g. "@method"
    label: str


def precheck_request(
    request: HttpRequest,
    *,
    now: int,
    skew: int = DEFAULT_SKEW,
    max_lifetime: int = MAX_LIFETIME,
    extra_components: Sequence[str] = (),
) -> SignatureInput:
    """The checks of `verify_request` that need no key and no cryptography: structure,
    required parameters, coverage and the time window at `now`. A front end (the gateway)
    runs them to refuse bad requests cheaply; they authenticate nothing."""
    return _precheck(request, now, skew, max_lifetime, extra_components)[1]


def _precheck(request: HttpRequest, now: int, skew: int, max_lifetime: int,
              extra_components: Sequence[str]) -> tuple[_SignatureFields, SignatureInput]:  # fmt: skip
    fields = _read_signature(request)
    params = fields.params
    created = _required_param(params, "created")
    expires = _required_param(params, "expires")
    nonce = _required_param(params, "nonce")
    keyid = _required_param(params, "keyid")
    covered = tuple(value for value, component_params in fields.components if not component_params)
    checked = SignatureInput(keyid, created, expires, nonce, covered, fields.label)
    check_signature_input(checked, request, now=now, skew=skew, max_lifetime=max_lifetime,
                          extra_components=extra_components)  # fmt: skip
    components = tuple(value for value, _ in fields.components)
    return fields, dataclasses.replace(checked, components=components)


def check_signature_input(checked: SignatureInput, request: HttpRequest, *, now: int, skew: int,
                          max_lifetime: int, extra_components: Sequence[str] = ()) -> None:  # fmt: skip
    """The profile's checks of parsed signature parameters (`checked.components`: the
    covered ids without component parameters), shared with `signature_profile`."""
    check_nonce(checked.nonce, MalformedSignatureHeader)
    missing = [c for c in components_for(request, extra_components) if c not in checked.components]
    if missing:
        raise MissingCoveredComponent(f"the signature does not cover {missing}")
    created, expires = checked.created, checked.expires
    if expires <= created:
        raise MalformedSignatureHeader(f"expires ({expires}) must be later than created ({created})")
    if expires - created > max_lifetime:
        raise ExpiresTooFar(f"expires is {expires - created} s after created; at most {max_lifetime} s allowed")
    if created > now + skew:
        raise CreatedInFuture(f"created ({created}) is {created - now} s after now ({now}); skew is {skew} s")
    if expires < now - skew:
        raise Expired(f"the signature expired at {expires}, {now - expires} s before now ({now}); skew is {skew} s")
    if not _THUMBPRINT.fullmatch(checked.keyid):
        raise UnknownKey(f"keyid {checked.keyid!r} is not an RFC 7638 SHA-256 thumbprint")


def verify_request(
    request: HttpRequest,
    *,
    resolve_key: Callable[[str], PublicJwk | None],
    now: int,
    skew: int = DEFAULT_SKEW,
    max_lifetime: int = MAX_LIFETIME,
    extra_components: Sequence[str] = (),
) -> VerifiedSignature:
    """Verify `request`'s signature per Accord's profile, at time `now` (int seconds).

    Cheap checks run first (`precheck_request`: structure, parameters, coverage, time
    window), then the key is resolved (`resolve_key(keyid)` -> public JWK or None), then the
    signature and finally the body against the signed Content-Digest. Raises a specific
    `SignatureError` subclass. The nonce is NOT recorded here: pass the result to
    `ReplayCache.check_and_record`.
    """
    fields, checked = _precheck(request, now, skew, max_lifetime, extra_components)
    keyid = checked.keyid
    key = resolve_key(keyid)
    if key is None:
        raise UnknownKey(f"no key is known for keyid {keyid!r}")
    if key.thumbprint != keyid:
        raise UnknownKey(f"the key resolved for keyid {keyid!r} has thumbprint {key.thumbprint!r}")
    alg = key.http_signature_alg  # PublicJwk admits only the profile's two key kinds

    values = _verify(request, fields, alg=alg, keyid=keyid, key=key.crypto_key())
    content_digest.verify(values['"content-digest"'], request.body)
    return VerifiedSignature(
        keyid=keyid,
        jkt=key.thumbprint,
        alg=alg,
        created=checked.created,
        expires=checked.expires,
        nonce=checked.nonce,
        covered_components=tuple(k for k in values if k != '"@signature-params"'),
        method=values['"@method"'],
        target_uri=values['"@target-uri"'],
        label=fields.label,
    )
