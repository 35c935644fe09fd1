"""One fuzz target per entry point that takes bytes from outside.

A target is a function of raw bytes. It feeds them to the entry point and returns normally
when the input is accepted or refused the documented way: an `AccordError` subclass (or,
for the HTTP gateway, a documented status code). Anything else propagates: a finding.
Fixtures the targets need (keys, a trust root, a deployment for the gateway) are built
once, lazily, and are deterministic where that matters for reproducing a finding.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from accord.errors import AccordError

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "tests" / "vectors"
NOW = 1_800_000_000  # fixed "now" for time checks: runs are reproducible


class Hang(Exception):
    """An input ran past the campaign's time limit (raised by its alarm, see `fuzz.run`)."""


@dataclass(frozen=True)
class Target:
    name: str
    check: Callable[[bytes], None]
    doc: str
    prefix: int  # selector bytes before the structured part (see `_selector`)


TARGETS: dict[str, Target] = {}


def target(doc: str, *, prefix: int = 0):
    def register(fn: Callable[[bytes], None]) -> Callable[[bytes], None]:
        TARGETS[fn.__name__] = Target(fn.__name__, fn, doc, prefix)
        return fn

    return register


def _selector(data: bytes, count: int) -> tuple[int, bytes]:
    """First byte chooses among `count` parsers of one target; the rest is the input."""
    return (data[0] % count, data[1:]) if data else (0, b"")


# --- attestation documents ---


@functools.cache
def _aws_root():
    from accord.enclave.platform.trust import aws_nitro_root_g1

    return aws_nitro_root_g1()


@target("COSE_Sign1 / CBOR attestation document, its certificate chain and checks (AWS root)")
def attestation(data: bytes) -> None:
    from accord.enclave.platform.attestation import decode_attestation, verify_attestation

    try:
        _, document = decode_attestation(data)
        at = document.time  # check the chain at the document's own time: reach deeper checks
        verify_attestation(data, root=_aws_root(), at=at, allow_debug=True)
    except AccordError:
        pass


@target("`accord attest verify FILE` and `accord attest show FILE` on arbitrary files")
def attest_cli(data: bytes) -> None:
    import tempfile

    from click.testing import CliRunner

    from accord.cli import main

    with tempfile.NamedTemporaryFile(suffix=".bin") as file:
        file.write(data)
        file.flush()
        for command in (["attest", "verify", file.name, "--json"], ["attest", "show", file.name]):
            result = CliRunner().invoke(main, command)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise result.exception
            if "Hang: " in result.output:  # the alarm went off where Python only prints it (a __del__)
                raise Hang("an input ran past the time limit")
            if result.exit_code not in (0, 1) or "Traceback" in result.output:
                raise AssertionError(f"{command[:2]} exited {result.exit_code}: {result.output[-500:]}")


# --- CBOR of the messages that cross the host ---


@target("attested channel envelope (DKG and state-sync messages) and its opening by a peer")
def channel_envelope(data: bytes) -> None:
    from accord.enclave.platform.channel import Envelope

    try:
        Envelope.from_bytes(data)
        _channels().receiver.open_sealed(data, "dkg/round2")
    except AccordError:
        pass


@dataclass
class _Channels:
    sender: object
    receiver: object


@functools.cache
def _channels() -> _Channels:
    """Two simulated enclaves of one measured configuration, a channel each way."""
    import tempfile

    from accord.enclave.configuration import EnclaveConfig
    from accord.enclave.platform.attestation import AttestationPolicy
    from accord.enclave.platform.enclave import Enclave, expected_pcrs
    from accord.enclave.platform.pki import SimulatedNitroPki
    from accord.enclave.platform.timeutil import utc_now

    config = EnclaveConfig(("a1" * 32,))
    pki = SimulatedNitroPki.generate(now=utc_now())
    base = Path(tempfile.mkdtemp(prefix="accord-fuzz-channel-"))
    a, b = (Enclave.simulated(enclave_id=name, config=config, state_dir=base / name, pki=pki)
            for name in ("g0-e0-keyshare", "g0-e1-keyshare"))  # fmt: skip
    policy = AttestationPolicy(root=pki.trusted_root(), expected_pcrs=expected_pcrs(config), max_age=timedelta(minutes=5))
    nonce = b"\x01" * 32
    peer_a = b.verify_peer(a.identity_document(nonce), policy, nonce=nonce)
    peer_b = a.verify_peer(b.identity_document(nonce), policy, nonce=nonce)
    session = b"fuzz-session".ljust(32, b"\0")
    return _Channels(a.channel(peer_b, session), b.channel(peer_a, session))


@target("FROST wire formats: DKG round 1/2 packages, commitments, signing packages, shares, key packages, "
        "a participant's signature (verifying share || message || signature)", prefix=1)
def frost_messages(data: bytes) -> None:
    from accord.protocols.frost.dkg import Round1Package, Round2Package
    from accord.protocols.frost.keys import KeyPackage, PublicKeyPackage, VerifyingKey, VerifyingShare
    from accord.protocols.frost.refresh import RefreshPackage
    from accord.protocols.frost.round1 import SigningCommitments
    from accord.protocols.frost.round2 import SignatureShare
    from accord.protocols.frost.signing_package import SigningPackage

    parsers = (Round1Package.from_bytes, Round2Package.from_bytes, SigningCommitments.from_bytes,
               SigningPackage.from_bytes, SignatureShare.from_bytes, KeyPackage.from_bytes,
               PublicKeyPackage.from_bytes, VerifyingKey.from_bytes, VerifyingShare.from_bytes,
               RefreshPackage.from_bytes, _participant_signature)  # fmt: skip
    which, body = _selector(data, len(parsers))
    try:
        parsers[which](body)
    except AccordError:
        pass


def _participant_signature(body: bytes) -> None:
    """A relayed commitment batch's signature check, on a verifying share from the input."""
    from accord.protocols.frost import participant_signature
    from accord.protocols.frost.identifier import Identifier
    from accord.protocols.frost.keys import VerifyingShare

    share = VerifyingShare.from_bytes(body[:32])
    participant_signature.verify(Identifier(1), share, body[32:-64], body[-64:])


@target("sealed objects on host storage (shares, state keys) and their unsealing")
def sealed_object(data: bytes) -> None:
    from accord.enclave.platform.sealing import SealedObject

    try:
        SealedObject.from_bytes(data)
    except AccordError:
        pass


@target("group state snapshots (from peers and disk) and the sealed state log", prefix=1)
def group_state(data: bytes) -> None:
    from accord.enclave.group_key import GroupBinding
    from accord.enclave.group_state import BatchEffects, GroupState
    from accord.enclave.platform.strict_cbor import loads_exact
    from accord.enclave.group_state import GroupStateError

    which, body = _selector(data, 3)
    try:
        if which == 0:
            GroupState.from_snapshot(body, signature_skew=30)
        elif which == 1:
            BatchEffects.decode(loads_exact(body, GroupStateError, "batch effects"))
        else:
            GroupBinding.from_bytes(body)
    except AccordError:
        pass


@target("the NSM request/response CBOR (the device interface) and the simulated PKI file", prefix=1)
def nsm_messages(data: bytes) -> None:
    from accord.enclave.platform.nsm import decode_request, decode_response
    from accord.enclave.platform.pki import SimulatedNitroPki

    which, body = _selector(data, 3)
    try:
        (decode_request, decode_response, SimulatedNitroPki.from_bytes)[which](body)
    except AccordError:
        pass


# --- bundles ---


@functools.cache
def _bundle_trust():
    from accord.bundles.keys import fingerprint
    from accord.bundles.verify import TrustPolicy
    from accord.protocols.jwk import SigningKey

    key = SigningKey.from_dict(json.loads((REPO / "fuzz" / "corpus" / "bundle_key.jwk").read_text()))
    return key, TrustPolicy(frozenset({fingerprint(key)}))


@target("bundle archives: tar.gz layout, .manifest, .signatures.json, data documents, strict verification")
def bundle_archive(data: bytes) -> None:
    from accord.bundles.layout import read_tarball
    from accord.bundles.verify import verify_bundle

    key, trust = _bundle_trust()
    try:
        raw = read_tarball(data)
        verify_bundle(raw, public_key=key.public, trust=trust, min_version=1,
                      now=datetime.fromtimestamp(NOW, UTC))  # fmt: skip
    except AccordError:
        pass


@target("bundle documents alone: .manifest, .signatures.json, data.json / data.yaml", prefix=1)
def bundle_documents(data: bytes) -> None:
    from accord.bundles.hashing import parse_document
    from accord.bundles.manifest import parse_manifest
    from accord.bundles.signatures import parse_signatures_config

    which, body = _selector(data, 4)
    try:
        if which == 0:
            parse_manifest(parse_document(".manifest", body).value)
        elif which == 1:
            parse_signatures_config(body)
        else:
            parse_document("data.json" if which == 2 else "data.yaml", body)
    except AccordError:
        pass


# --- RFC 9421 ---


def parse_http(data: bytes):
    """The fuzz corpus's request format: `METHOD URL\\n(Name: value\\n)*\\nbody`, bytes as
    latin-1. Returns an HttpRequest, or None when the bytes are not in that format (the
    format is the harness's, not a parser under test); HttpRequest's own refusals count."""
    from accord.protocols.http_signatures import HttpRequest

    head, sep, body = data.partition(b"\n\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\n")
    method, _, url = lines[0].partition(" ")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(": ")
        if not colon:
            return None
        headers.append((name, value))
    return HttpRequest(method, url, tuple(headers), body)


def format_http(request) -> bytes:
    lines = [f"{request.method} {request.url}", *(f"{n}: {v}" for n, v in request.headers)]
    return "\n".join(lines).encode("latin-1") + b"\n\n" + request.body


@functools.cache
def _client():
    from accord.client.api import Client
    from accord.protocols.jwk import SigningKey

    key = SigningKey.from_dict(json.loads((REPO / "fuzz" / "corpus" / "client_key.jwk").read_text()))
    return Client(key, base_url="https://accord.example")


@target("RFC 9421: Signature-Input, Signature, Content-Digest and whole signed requests; the hot path's "
        "profile and the library-backed reference must agree")
def rfc9421(data: bytes) -> None:
    from accord.protocols import http_signatures as reference
    from accord.protocols import signature_profile as profile
    from accord.protocols.auth_errors import OutsideProfile
    from accord.protocols.content_digest import parse as parse_digest

    key = _client().key.public

    def outcome(verify, request):
        try:
            return verify(request, resolve_key=lambda kid: key if kid == key.thumbprint else None, now=NOW + 1)
        except AccordError as exc:
            return exc

    try:
        request = parse_http(data)
    except AccordError:
        return
    if request is None:
        return
    try:
        digest = request.header("content-digest")
        if digest is not None:
            parse_digest(digest)
        reference.precheck_request(request, now=NOW + 1)
        profile.precheck_request(request, now=NOW + 1)
    except AccordError:
        pass
    ours, theirs = outcome(profile.verify_request, request), outcome(reference.verify_request, request)
    if not isinstance(ours, Exception):
        if ours != theirs:
            raise AssertionError(f"the profile accepted what the reference answers {theirs!r}: {ours!r}")
    elif not isinstance(theirs, Exception) and not isinstance(ours, OutsideProfile):
        raise AssertionError(f"the reference accepts; the profile refuses with {ours!r}")


@target("a decision log file (`accord log verify` and `show` read them from the untrusted state directory)")
def decision_log(data: bytes) -> None:
    import tempfile

    from accord.enclave.decision_log import compare_group, read_entries, verify_log
    from accord.enclave.platform.attestation import AttestationPolicy

    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "decisions-000001.jsonl").write_bytes(data)
        report = verify_log(Path(directory), "g0-e0-evaluator", AttestationPolicy(_aws_root(), allow_debug=True))
        compare_group([report, report])
        list(read_entries(Path(directory)))


# --- JWS / JWT ---


@functools.cache
def _jwks():
    from accord.protocols.jwk import SigningKey, build_jwks

    key = SigningKey.from_dict(json.loads((REPO / "fuzz" / "corpus" / "group_key.jwk").read_text()))
    return key, build_jwks([key.public])


@target("JWS/JWT: access tokens (resource servers), approvals, JWKs and JWKS documents", prefix=1)
def jws(data: bytes) -> None:
    from accord.protocols.approvals import verify_approval
    from accord.protocols.jwk import PublicJwk, parse_jwks
    from accord.protocols.tokens import verify_token

    which, body = _selector(data, 4)
    text = body.decode("latin-1")
    _, jwks = _jwks()
    client = _client()
    try:
        if which == 0:
            verify_token(text, jwks, audience="accord-resource-servers", issuer="accord", now=NOW + 1)
        elif which == 1:
            verify_approval(text, request_hash="A" * 43, now=NOW + 1, max_age=3600,
                            resolve_key=lambda kid: client.key.public if kid == client.key.thumbprint else None)  # fmt: skip
        else:
            try:
                document = json.loads(body)
            except ValueError:
                return  # not JSON: refused before our parsers (json.loads is the library's)
            if isinstance(document, dict):
                (PublicJwk.from_dict if which == 2 else parse_jwks)(document)
    except AccordError:
        pass


# --- the authorization request and the gateway ---


@target("the authorization request body and the evaluator input built from it")
def authz_body(data: bytes) -> None:
    from accord.bundles.inputs import prepare_input
    from accord.protocols.authz_request import parse_authorization_request

    try:
        request = parse_authorization_request(data)
        prepare_input({"request": {"action": request.action, "resource": request.resource,
                                   "payload": dict(request.payload)},
                       "principal": "alice", "key": "A" * 43, "time": NOW, "request_hash": "A" * 43})  # fmt: skip
    except AccordError:
        pass


@functools.cache
def _library_engines() -> tuple:
    """The shipped library on every engine a group may mix (OPA where installed)."""
    from accord.bundles.engine import engine_class
    from accord.bundles.opa_engine import opa_available
    from accord.bundles.policy_test import load_policy_dir

    modules, data = load_policy_dir(REPO / "accord" / "policies")
    modules = {path: source for path, source in modules.items() if not path.endswith("_test.rego")}
    names = ("regorus", "regorus-rvm", "opa") if opa_available() else ("regorus", "regorus-rvm")
    return tuple((name, engine_class(name).load(modules, data)) for name in names)


@target("evaluator inputs decided by the library on every engine (interpreter, RVM, OPA): they must agree")
def policy_engines(data: bytes) -> None:
    from accord.bundles.inputs import prepare_input
    from accord.protocols import canonical_json

    try:
        prepared = prepare_input(canonical_json.loads(data))
    except AccordError:
        return
    decisions = {name: engine.decide(prepared).to_json() for name, engine in _library_engines()}
    if len(set(decisions.values())) != 1:
        raise AssertionError(f"engines disagree on {prepared.json.decode()}: {decisions}")


GATEWAY_STATUSES = frozenset({200, 202, 400, 401, 403, 404, 405, 409, 411, 413, 415, 422, 429, 503})


@functools.cache
def _gateway():
    """The ASGI app over an in-process deployment (the real enclaves' code, no Ray)."""
    import tempfile

    from starlette.testclient import TestClient

    from accord.cluster.deployment import Deployment
    from accord.cluster.gateway import create_app
    from accord.scenario import make_scenario

    root = Path(tempfile.mkdtemp(prefix="accord-fuzz-gateway-"))
    scenario = make_scenario(root / "published")
    deployment = Deployment.in_process(state_dir=root / "state", bundle=scenario.publish(1))
    return TestClient(create_app(deployment), base_url="https://accord.example")


@target("the HTTP gateway through its ASGI app: malformed JSON, huge or nested bodies, odd headers")
def gateway(data: bytes) -> None:
    request = None
    try:
        request = parse_http(data)
    except AccordError:
        pass
    if request is None:  # not a request in the corpus format: send the bytes as a body
        method, path, headers, body = "POST", "/v1/authorize", [("content-type", "application/json")], data
    else:
        path = "/" + request.url.split("://", 1)[-1].partition("/")[2]
        method, headers, body = request.method, list(request.headers), request.body
    import httpx

    try:
        response = _gateway().request(method, path, headers=headers, content=body)
    except (UnicodeError, httpx.InvalidURL, httpx.UnsupportedProtocol):  # the client cannot send it: not the server
        return
    except ValueError as exc:
        if "header" in str(exc).lower():  # h11/httpx refuse to send such a header: not the server
            return
        raise
    if response.status_code not in GATEWAY_STATUSES:
        raise AssertionError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
