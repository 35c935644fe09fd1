"""Accord's RFC 9421 profile, signed and verified directly: the hot path.

`accord.protocols.http_signatures` builds every signature base through the
`http-message-signatures` package (structured-field parsing and serialization in several
layers: about 3x the cost of the Ed25519 operation itself). Accord's profile is narrow, so
this module signs and verifies exactly that profile and nothing else:

    Signature-Input: <label>=("@method" "@target-uri" "content-type" "content-digest"
                     [ "authorization"] [ more lowercase field names, or @scheme,
                     @authority, @path, @query]);created=<int>;
                     keyid="<RFC 7638 thumbprint>";expires=<int>;nonce="<nonce>"
    Signature:       <label>=:<base64 of 64 bytes>:

one field line each; the parameters in any order, each once (`alg`, if present, must name
the key's algorithm; `tag` is carried), integers and strings in their canonical form (no
leading zeros, no characters a String would escape); no component parameters; and an
`@target-uri` that is an `http(s)` URL with a path and no userinfo or fragment, so that it
is its own signature-base value. In that form the
Signature-Input member is, byte for byte, the `@signature-params` value, and the signature
base is a few string joins.

A message the profile does not recognise is refused, never handed to a looser path: the
reference (`http_signatures`) runs only to name the problem precisely; where the reference
would accept it, the refusal says which part is outside the profile. The package stays
the reference in differential tests (tests/protocols/http/test_signature_profile.py and the
`rfc9421` fuzz target): what one signs the other verifies, both ways, and they agree on
every generated and malformed message this path accepts.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Sequence
from typing import NoReturn, cast

import cryptography.exceptions
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from nacl import bindings
import nacl.exceptions

from accord.protocols import content_digest, http_signatures
from accord.protocols.auth_errors import (
    AlgorithmMismatch,
    BadSignature,
    ContentDigestMismatch,
    OutsideProfile,
    SigningError,
    UnknownKey,
    UnresolvableComponent,
)
from accord.protocols.http_signatures import (
    DEFAULT_LABEL,
    DEFAULT_LIFETIME,
    DEFAULT_SKEW,
    MAX_LIFETIME,
    HttpRequest,
    SignatureInput,
    VerifiedSignature,
)
from accord.protocols.jwk import KeyKind, PublicJwk, SigningKey, b64url_decode

_KEY = r"[a-z*][a-z0-9_.*-]{0,63}"  # RFC 9651 key (bounded)
_INT = r"0|[1-9][0-9]{0,14}"  # RFC 9651 integer, canonical (no sign, no leading zero)
_FIELD_NAME = r"[a-z0-9!#$%&'*+.^_`|~-]+"  # RFC 9110 token, lowercase as RFC 9421 requires
_DERIVED = ("@method", "@target-uri", "@scheme", "@authority", "@path", "@query")
_COMPONENT = rf'"(?:{"|".join(_DERIVED)}|{_FIELD_NAME})"'
_STRING_CHARS = r"\x20\x21\x23-\x5b\x5d-\x7e"  # a String's characters that need no escape
_PARAM_SHAPE = rf';{_KEY}=(?:{_INT}|"[{_STRING_CHARS}]*")'
_PARAM = re.compile(rf';(?P<name>{_KEY})=(?:(?P<int>{_INT})|"(?P<str>[{_STRING_CHARS}]*)")')
_INPUT = re.compile(
    rf"(?P<label>{_KEY})=(?P<params>\((?P<components>{_COMPONENT}(?: {_COMPONENT})*)\)(?P<list>(?:{_PARAM_SHAPE})*))"
)
_INT_PARAMS, _STRING_PARAMS = frozenset({"created", "expires"}), frozenset({"alg", "keyid", "nonce", "tag"})
_SIGNATURE = re.compile(rf"(?P<label>{_KEY})=:(?P<value>[A-Za-z0-9+/]*={{0,2}}):")
# RFC 3986 characters the package's URL parser accepts in a host, path and query; percent
# escapes must be complete. No userinfo, no fragment, a path: the URL is the target URI.
_CHARS = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_TARGET = re.compile(
    rf"(?P<scheme>https?)://(?P<host>(?:[{_CHARS}]|{_PCT})+|\[(?P<ipv6>[0-9A-Fa-f:.]+)\])(?::(?P<port>[0-9]*))?"
    rf"(?P<path>/(?:[{_CHARS}:@/]|{_PCT})*)(?:\?(?P<query>(?:[{_CHARS}:@/?]|{_PCT})*))?"
)
_DEFAULT_PORT = {"http": "80", "https": "443"}
_SHA256_DIGEST = re.compile(r"sha-256=:(?P<value>[A-Za-z0-9+/]{43}=):")


def _target(url: str) -> re.Match[str]:
    match = _TARGET.fullmatch(url)
    if match is None:
        raise OutsideProfile(f"the target URI {url[:200]!r} is not an http(s) URL with a path, without userinfo "
                            "or fragment")  # fmt: skip
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            raise OutsideProfile(f"the target URI's host {match['host']!r} is not an IPv6 address") from None
    return match


def _derived(request: HttpRequest, component: str) -> str:
    """RFC 9421 section 2.2 derived components of a request, from a URL `_TARGET` accepts
    (so none needs the normalization a general URL would)."""
    if component == "@method":
        return request.method
    target = _target(request.url)
    if component == "@target-uri":
        return request.url
    if component == "@scheme":
        return target["scheme"]
    if component == "@authority":
        port = target["port"]  # absent, empty or the scheme's default: not written
        default = not port or port.lstrip("0") == _DEFAULT_PORT[target["scheme"]]
        return target["host"].lower() + ("" if default else f":{port}")
    if component == "@path":
        return target["path"]
    return "?" + (target["query"] or "")  # @query


def _fields(request: HttpRequest) -> dict[str, list[str]]:
    """Field line values by lowercase name, trimmed as RFC 9421 section 2.1 says (one pass
    over the lines, where `HttpRequest.header` would make one per lookup)."""
    fields: dict[str, list[str]] = {}
    for name, value in request.headers:
        fields.setdefault(name.lower(), []).append(value.strip(" \t"))
    return fields


def _field_value(fields: dict[str, list[str]], name: str) -> str:
    lines = fields.get(name)
    value = None if lines is None else ", ".join(lines)
    if value is None:
        raise UnresolvableComponent(f"signature covers the field {name!r}, which the message does not have")
    # What RFC 9421 section 2.5 allows in a signature base: printable ASCII (tabs inside).
    if not (value.isascii() and value.replace("\t", " ").isprintable()):
        raise UnresolvableComponent(f"field {name!r} has characters a signature base cannot hold")
    return value


def signature_base(request: HttpRequest, components: Sequence[str], signature_params: str,
                   fields: dict[str, list[str]] | None = None) -> bytes:  # fmt: skip
    """The RFC 9421 section 2.5 signature base of `request` for `components` (ids without
    quotes) and the serialized `@signature-params` value, which must be canonical (the
    profile's parser only passes canonical values)."""
    fields = _fields(request) if fields is None else fields
    lines = []
    for component in components:
        value = _derived(request, component) if component.startswith("@") else _field_value(fields, component)
        lines.append(f'"{component}": {value}')
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode("ascii")


class _Parsed:
    __slots__ = ("label", "signature_params", "components", "created", "keyid", "alg", "expires", "nonce", "signature")

    def __init__(self, fields: dict[str, list[str]]) -> None:
        inputs = _one_line(fields, "signature-input")
        signatures = _one_line(fields, "signature")
        match = _INPUT.fullmatch(inputs)
        if match is None:
            raise OutsideProfile("Signature-Input is not in the profile's form")
        signature = _SIGNATURE.fullmatch(signatures)
        if signature is None or signature["label"] != match["label"]:
            raise OutsideProfile("Signature is not one Byte Sequence under the Signature-Input's label")
        try:
            self.signature = binascii.a2b_base64(signature["value"], strict_mode=True)
        except binascii.Error:
            raise OutsideProfile("the Signature's Byte Sequence is not canonical base64") from None
        self.components = tuple(c[1:-1] for c in match["components"].split(" "))
        if len(set(self.components)) != len(self.components):
            raise OutsideProfile("a component is covered twice")
        params: dict[str, int | str] = {}
        for param in _PARAM.finditer(match["list"]):
            name, number = param["name"], param["int"]
            if name in params or name not in (_INT_PARAMS if number is not None else _STRING_PARAMS):
                raise OutsideProfile(f"the signature parameter {name!r} is repeated, unknown or of the wrong type")
            params[name] = int(number) if number is not None else param["str"]
        if not {"created", "expires", "keyid", "nonce"} <= params.keys():
            raise OutsideProfile("a required signature parameter is missing")
        self.label = match["label"]
        self.signature_params = match["params"]
        self.created, self.expires = cast(int, params["created"]), cast(int, params["expires"])
        self.keyid, self.nonce = cast(str, params["keyid"]), cast(str, params["nonce"])
        self.alg = cast("str | None", params.get("alg"))


def _one_line(fields: dict[str, list[str]], name: str) -> str:
    lines = fields.get(name, ())
    if len(lines) != 1:
        raise OutsideProfile(f"the profile has exactly one {name} field line, the message has {len(lines)}")
    return lines[0]


def _parse(request: HttpRequest, fields: dict[str, list[str]], now: int, skew: int, max_lifetime: int) -> _Parsed:
    """The profile's parse and every check that needs no key, in the reference's order
    (`http_signatures.precheck_request`), with the reference's errors."""
    try:
        parsed = _Parsed(fields)
    except OutsideProfile as exc:
        _explain(request, now, skew, max_lifetime, exc)
    http_signatures.check_signature_input(
        SignatureInput(parsed.keyid, parsed.created, parsed.expires, parsed.nonce, parsed.components, parsed.label),
        request, now=now, skew=skew, max_lifetime=max_lifetime)  # fmt: skip
    return parsed


def _explain(request: HttpRequest, now: int, skew: int, max_lifetime: int, outside: OutsideProfile) -> NoReturn:
    """Raise the reference's specific error for `request`; where the reference finds none,
    refuse it as outside the profile (never accept it on the reference's word)."""
    http_signatures.precheck_request(request, now=now, skew=skew, max_lifetime=max_lifetime)
    raise outside


def precheck_request(request: HttpRequest, *, now: int, skew: int = DEFAULT_SKEW,
                     max_lifetime: int = MAX_LIFETIME) -> SignatureInput:  # fmt: skip
    """The checks of `verify_request` that need no key and no cryptography (structure,
    parameters, coverage, the time window at `now`): a front end refuses bad requests
    cheaply with them. They authenticate nothing."""
    parsed = _parse(request, _fields(request), now, skew, max_lifetime)
    return SignatureInput(parsed.keyid, parsed.created, parsed.expires, parsed.nonce, parsed.components, parsed.label)


def _verify_signature(key: PublicJwk, signature: bytes, base: bytes, label: str) -> None:
    try:
        if key.kind is KeyKind.ED25519:
            # libsodium (PyNaCl): half OpenSSL's cost here, and stricter (canonical R and S,
            # no small-order points), so never looser than the reference's check.
            bindings.crypto_sign_open(signature + base, b64url_decode(key.x, "x"))
        else:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.crypto_key().verify(der, base, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]
    except (cryptography.exceptions.InvalidSignature, nacl.exceptions.BadSignatureError):
        raise BadSignature(f"the {key.http_signature_alg} signature {label!r} does not verify with key "
                           f"{key.thumbprint!r}") from None  # fmt: skip


def _check_digest(field_value: str, body: bytes) -> None:
    match = _SHA256_DIGEST.fullmatch(field_value)
    if match is None:  # another algorithm, several, or parameters: the RFC 9530 parser decides
        content_digest.verify(field_value, body)
        return
    if not hmac.compare_digest(base64.b64decode(match["value"]), hashlib.sha256(body).digest()):
        raise ContentDigestMismatch("the body does not match its Content-Digest (sha-256)")


def verify_request(request: HttpRequest, *, resolve_key: Callable[[str], PublicJwk | None], now: int,
                   skew: int = DEFAULT_SKEW, max_lifetime: int = MAX_LIFETIME) -> VerifiedSignature:  # fmt: skip
    """Verify `request`'s signature per Accord's profile at `now` (the request-assigned time).

    Same contract and errors as the reference `http_signatures.verify_request`: cheap checks
    first, then the key (`resolve_key(keyid)` -> public JWK or None), the signature, and the
    body against the signed Content-Digest. The nonce is NOT recorded here.
    """
    fields = _fields(request)
    parsed = _parse(request, fields, now, skew, max_lifetime)
    key = resolve_key(parsed.keyid)
    if key is None:
        raise UnknownKey(f"no key is known for keyid {parsed.keyid!r}")
    if key.thumbprint != parsed.keyid:
        raise UnknownKey(f"the key resolved for keyid {parsed.keyid!r} has thumbprint {key.thumbprint!r}")
    if parsed.alg is not None and parsed.alg != key.http_signature_alg:
        raise AlgorithmMismatch(f"signature names alg {parsed.alg!r} but the key is for {key.http_signature_alg!r}")
    if len(parsed.signature) != 64:  # both of the profile's algorithms
        raise BadSignature(f"{key.http_signature_alg} signature must be 64 bytes, got {len(parsed.signature)}")
    base = signature_base(request, parsed.components, parsed.signature_params, fields)
    _verify_signature(key, parsed.signature, base, parsed.label)
    _check_digest(_field_value(fields, "content-digest"), request.body)
    return VerifiedSignature(
        keyid=parsed.keyid, jkt=key.thumbprint, alg=key.http_signature_alg, created=parsed.created,
        expires=parsed.expires, nonce=parsed.nonce, covered_components=tuple(f'"{c}"' for c in parsed.components),
        method=request.method, target_uri=request.url, label=parsed.label,
    )  # fmt: skip


def sign_request(request: HttpRequest, key: SigningKey, *, created: int, expires: int | None = None,
                 nonce: str | None = None, extra_components: Sequence[str] = (),
                 label: str = DEFAULT_LABEL) -> HttpRequest:  # fmt: skip
    """Sign `request` per Accord's profile; return it with Content-Digest (sha-256, added
    when absent; an existing one must match the body), Signature-Input and Signature.
    `expires` defaults to `created + DEFAULT_LIFETIME`; `nonce` to 32 random base64url
    characters. The same output as the reference signer (byte for byte for Ed25519)."""
    expires = created + DEFAULT_LIFETIME if expires is None else expires
    if not 0 < expires - created <= MAX_LIFETIME:
        raise SigningError(f"expires must be 1..{MAX_LIFETIME} s after created, got {expires - created}")
    if not (re.fullmatch(_INT, str(created)) and re.fullmatch(_KEY, label)):
        raise SigningError("created must be a non-negative integer and label a Structured Field key")
    nonce = http_signatures.check_nonce(secrets.token_urlsafe(24) if nonce is None else nonce, SigningError)
    if not re.fullmatch(f"[{_STRING_CHARS}]*", nonce):
        raise SigningError("the profile's nonce has no '\"', '\\' or characters outside printable ASCII")
    fields = _fields(request)
    added: tuple[tuple[str, str], ...] = ()
    if "content-digest" in fields:
        content_digest.verify(", ".join(fields["content-digest"]), request.body)
    else:  # what content_digest.create writes, without the general serializer
        digest = base64.b64encode(hashlib.sha256(request.body).digest()).decode("ascii")
        added = (("Content-Digest", f"sha-256=:{digest}:"),)
        fields["content-digest"] = [added[0][1]]
    components = http_signatures.components_for(request, extra_components)
    bad = [c for c in components if not re.fullmatch(_COMPONENT, f'"{c}"')]
    if bad:
        raise SigningError(f"the profile covers {', '.join(_DERIVED)} and lowercase field names, not {bad}")
    covered = " ".join(f'"{c}"' for c in components)
    params = f'({covered});created={created};keyid="{key.thumbprint}";expires={expires};nonce="{nonce}"'
    try:
        base = signature_base(request, components, params, fields)
    except (OutsideProfile, UnresolvableComponent) as exc:
        raise SigningError(f"cannot sign the message in Accord's profile: {exc}") from None
    signature = base64.b64encode(key.sign(base)).decode("ascii")
    kept = tuple((n, v) for n, v in request.headers if n.lower() not in ("signature-input", "signature"))
    return dataclasses.replace(request, headers=(*kept, *added, ("Signature-Input", f"{label}={params}"),
                                                 ("Signature", f"{label}=:{signature}:")))  # fmt: skip
