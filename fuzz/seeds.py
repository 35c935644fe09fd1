"""Write the seed corpora under fuzz/corpus/<target>/: valid inputs of every entry point
(built here with fixed fuzz-only keys and times) plus the project's conformance vectors.

    .venv/bin/python -m fuzz.seeds      # regenerate (the files are committed)

The keys in fuzz/corpus/*.jwk exist only for fuzzing: nothing trusts them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fuzz.targets import NOW, REPO, VECTORS, format_http

CORPUS = REPO / "fuzz" / "corpus"


def _key(name: str, kind=None):
    from accord.protocols.jwk import KeyKind, SigningKey

    path = CORPUS / f"{name}.jwk"
    if not path.exists():
        path.write_text(json.dumps(SigningKey.generate(kind or KeyKind.ED25519).to_private_dict(), indent=1))
    return SigningKey.from_dict(json.loads(path.read_text()))


def seeds() -> dict[str, list[bytes]]:
    """Every target's seeds."""
    from accord.bundles.build import sign_bundle
    from accord.bundles.layout import read_tarball, write_tarball
    from accord.bundles.publish import library_bundle
    from accord.client.api import Client
    import cbor2

    from accord.enclave.group_key import GroupBinding
    from accord.enclave.group_state import GroupState
    from accord.enclave.platform import nsm
    from accord.enclave.platform.pki import SimulatedNitroPki
    from accord.enclave.platform.sealing import SealedObject
    from accord.bundles.spending import Transfer
    from accord.protocols import canonical_json
    from accord.protocols.approvals import create_approval
    from accord.protocols.frost import dkg, participant_signature
    from accord.protocols.frost.identifier import Identifier
    from accord.protocols.frost.local import run_dkg
    from accord.protocols.frost.round1 import commit
    from accord.protocols.frost.round2 import sign
    from accord.protocols.frost.signing_package import SigningPackage
    from accord.protocols.jwk import build_jwks
    from accord.protocols.jws_profile import sign_compact
    from accord.protocols.tokens import TokenClaims
    from fuzz.targets import _channels

    CORPUS.mkdir(parents=True, exist_ok=True)
    bundle_key, client_key, group_key = _key("bundle_key"), _key("client_key"), _key("group_key")
    client = Client(client_key, base_url="https://accord.example")
    out: dict[str, list[bytes]] = {}

    documents = [(VECTORS / "nitro" / p).read_bytes() for p in
                 ("evervault/valid-attestation-doc-bytes", "evervault/debug-mode-attestation-doc-bytes",
                  "marlin/attestation.bin", "marlin/aws.bin", "marlin-mock/custom.bin", "tkhq-qos/mock_attestation_doc")]  # fmt: skip
    out["attestation"] = documents
    out["attest_cli"] = documents[:2] + [b"", b"\xd2\x84"]

    channels = _channels()
    out["channel_envelope"] = [channels.sender.seal("dkg/round2", b"share" * 8),
                               channels.sender.sign("dkg/round1", b"commitment" * 4)]  # fmt: skip

    keys, public = run_dkg(3, 3)
    ids = sorted(keys, key=lambda i: i.to_bytes())
    part1 = dkg.part1(Identifier(1), 3, 3)
    round2 = dkg.part2(part1[0], {j: dkg.part1(j, 3, 3)[1] for j in (Identifier(2), Identifier(3))})[1]
    nonces = {i: commit(keys[i].signing_share) for i in ids}
    package = SigningPackage({i: n.commitments for i, n in nonces.items()}, b"message")
    share = sign(package, nonces[ids[0]], keys[ids[0]])
    frost = [part1[1].to_bytes(), next(iter(round2.values())).to_bytes().reveal(),
             nonces[ids[0]].commitments.to_bytes(), package.to_bytes(), share.to_bytes(),
             keys[ids[0]].to_bytes().reveal(), public.to_bytes(), public.verifying_key.to_bytes(),
             next(iter(public.verifying_shares.values())).to_bytes()]  # fmt: skip
    out["frost_messages"] = [bytes([k]) + body for k, body in enumerate(frost)]
    signed = participant_signature.sign(keys[Identifier(1)], b"batch digest")  # parser 10
    out["frost_messages"].append(b"\x0a" + public.verifying_shares[Identifier(1)].to_bytes() + b"batch digest" + signed)

    sealed = SealedObject(1, "g0-e0-keyshare", "sim-key", "share", {0: b"\0" * 48}, b"blob" * 8, b"n" * 12, b"c" * 64)
    out["sealed_object"] = [sealed.to_bytes()]

    state = GroupState(signature_skew=30)
    effects = []
    for seq in (1, 2, 3):
        state.begin(seq)
        state.record_nonce("A" * 43, f"nonce-{seq}", created=NOW + seq, expires=NOW + seq + 60, now=NOW + seq)
        state.observe_iat(NOW + seq)
        state.record_transfer(Transfer(NOW + seq, "bob", "ops-wallet", "usdc", 10 * seq, "0xabc"))
        state.consume_approvals([f"approval-{seq}"], NOW + 3600)
        effects.append(state.commit())
    state.note_bundle(2, "d" * 64)
    binding = GroupBinding("fuzz", 0, ("g0-e0-keyshare", "g0-e1-keyshare", "g0-e2-keyshare"), 3, public.to_bytes())
    out["group_state"] = [b"\0" + state.snapshot(), b"\1" + cbor2.dumps(effects[0].encode()), b"\2" + binding.to_bytes()]

    pki = SimulatedNitroPki.generate(now=datetime.fromtimestamp(NOW, UTC))
    out["nsm_messages"] = [b"\0" + nsm.encode_request(nsm.Attestation(user_data=b"u", nonce=b"n" * 32, public_key=b"k")),
                           b"\0" + nsm.encode_request(nsm.DescribePcr(index=0)),
                           b"\0" + nsm.encode_request(nsm.GetRandom()),
                           b"\1" + nsm.encode_response(nsm.DescribePcrResponse(lock=True, data=b"\0" * 48)),
                           b"\2" + pki.to_bytes()]  # fmt: skip

    from accord.bundles.build import build_bundle
    from accord.bundles.manifest import Revision

    revision = Revision(1, datetime.fromtimestamp(NOW, UTC) + timedelta(days=30))
    archive = build_bundle(library_bundle(), revision)
    raw = read_tarball(archive)
    signature = sign_bundle(raw, bundle_key, iat=NOW)
    signed = write_tarball({**{f.path: f.content for f in raw.files}, ".signatures.json": signature})
    vector_bundles = sorted((VECTORS / "opa-bundles" / "bundles").rglob("*.tar.gz"))[:20]
    out["bundle_archive"] = [signed, archive] + [p.read_bytes() for p in vector_bundles]
    manifest = raw.get(".manifest")
    data = raw.get("data.json")
    out["bundle_documents"] = [b"\0" + manifest, b"\1" + signature, b"\2" + data[:4000],
                               b"\3" + b"roles:\n  admins: [alice, bob]\nlimit: 3\n"]  # fmt: skip

    payload = {"message": "hello"}
    request = client.signed_request("signMessage", "ops-wallet", payload, now=NOW)
    transfer = client.signed_request("signTransaction", "ops-wallet", {
        "chain_id": 1, "to": "0x" + "ab" * 20, "value": "0", "data": "0x"}, now=NOW)  # fmt: skip
    rfc = (VECTORS / "rfc9421" / "test-request.http").read_bytes()
    out["rfc9421"] = [format_http(request), format_http(transfer), rfc]

    claims = TokenClaims("accord", "alice", "accord-resource-servers", NOW, NOW + 300, "jti-1", client.key.thumbprint,
                         "A" * 43, "d" * 64, "signMessage", "ops-wallet")  # fmt: skip
    token = sign_compact({"alg": "EdDSA", "typ": "at+jwt", "kid": group_key.thumbprint}, claims.to_json(), group_key)
    approval = create_approval(client.key, "A" * 43, iat=NOW)
    out["jws"] = [b"\0" + token.encode(), b"\1" + approval.encode(),
                  b"\2" + json.dumps(client.key.public.to_dict()).encode(),
                  b"\3" + json.dumps(build_jwks([group_key.public])).encode()]  # fmt: skip

    bodies = [request.body, transfer.body,
              canonical_json.dumps({"action": "grantPermission", "resource": "bob", "payload": {"permissions": ["x"]},
                                    "approvals": ["a.b.c"]})]  # fmt: skip
    out["authz_body"] = bodies
    out["decision_log"] = [_decision_log(client, NOW)]
    out["policy_engines"] = _evaluator_inputs()
    out["gateway"] = [format_http(request), format_http(transfer), b"GET https://accord.example/healthz\n\n",
                      b"GET https://accord.example/.well-known/jwks.json\n\n", request.body]  # fmt: skip
    return out


def _evaluator_inputs() -> list[bytes]:
    """Evaluator inputs over the library's example data: a permit, a confirm, a forbid by
    rule and by limit, a grant, a typed-data signature."""
    data = json.loads((REPO / "accord" / "policies" / "data.json").read_text())
    usdc = "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
    kraken = next(k.split(":")[2] for k, v in data["address_book"].items() if v["label"] == "Kraken deposit")
    monday = 1767607200  # 2026-01-05T10:00:00Z, inside the business-hours rule

    def transfer(units: int) -> dict:
        calldata = "0xa9059cbb" + kraken[2:].rjust(64, "0") + format(units, "064x")
        return {"chain_id": 1, "to": usdc.rsplit(":", 1)[1], "value": 0, "data": calldata}

    def raw(principal: str, action: str, resource: str, payload: dict, **extra) -> bytes:
        return json.dumps({"request": {"action": action, "resource": resource, "payload": payload},
                           "principal": principal, "key": next(iter(data["principals"][principal]["keys"])),
                           "time": monday, "request_hash": "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg",
                           **extra}).encode()  # fmt: skip

    history = [{"time": monday - 1800 * (n + 1), "principal": "bob", "account": "ops-wallet", "token": usdc,
                "amount": 900_000 * 10**6, "destination": kraken} for n in range(3)]  # fmt: skip
    return [
        raw("bob", "signTransaction", "ops-wallet", transfer(5_000 * 10**6)),
        raw("bob", "signTransaction", "ops-wallet", transfer(50_000 * 10**6), approvals=["dave"]),
        raw("bob", "signTransaction", "ops-wallet", transfer(60_000 * 10**6), history=history),
        raw("bob", "signRaw", "ops-wallet", {"raw": "0xdeadbeef"}),
        raw("alice", "grantPermission", "bob", {"permissions": ["policy:read"]}),
        raw("bob", "signTypedData", "ops-wallet", {"typed_data": {"types": {}, "primaryType": "PermitSingle", "domain": {
            "name": "Permit2", "chainId": 1, "verifyingContract": "0x000000000022d473030f116ddee9f6b43ac78ba3"},
            "message": {}}}),  # fmt: skip
    ]


def _decision_log(client, now: int) -> bytes:
    """A log as an evaluator writes it (its open entry's document is not an attestation)."""
    import tempfile

    from accord.enclave.decision_log import DecisionLog, log_files
    from accord.protocols.minting import EnclaveVerdict, MintTask, Status

    request = client.signed_request("signMessage", "ops-wallet", {"message": "hi"}, now=now)
    task = MintTask(request=request, iat=now, exp=now + 300, jti="jti-1", commitments=b"")
    verdict = EnclaveVerdict("g0-e0-evaluator", Status.FORBID, "d" * 64, principal="alice", request_hash="A" * 43,
                             reasons=("no rule permits this request",))  # fmt: skip
    with tempfile.TemporaryDirectory() as directory:
        log = DecisionLog(Path(directory), "g0-e0-evaluator", sign=lambda data: bytes(64),
                          attest=lambda nonce: b"not an attestation document")  # fmt: skip
        log.append_batch(1, [task], [verdict], "kid")
        log.append_batch(2, [], [], "kid")
        return log_files(Path(directory))[0].read_bytes()


def write() -> None:
    for name, items in seeds().items():
        directory = CORPUS / name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        for item in items:
            (directory / hashlib.sha256(item).hexdigest()[:16]).write_bytes(item)
        print(f"{name}: {len(items)} seeds")


if __name__ == "__main__":
    write()
