"""A vault: a resource server that signs with its own keys only for an Accord token.

It holds one Ed25519 key per account. `POST /v1/sign` takes Accord's authorization request
format as its body (`{"action", "resource", "payload"}`), and signs only when the request
carries an Accord token issued for exactly that request (same action, account and payload,
hence the same `request_hash`), presented by the client the token is bound to (RFC 9421
signature by the `cnf.jkt` key, covering the token), not seen before (nonce and token are
single use). `accord.resource` does all of that; the vault only decides what to sign:

- `signMessage`: the UTF-8 bytes of `payload.message`;
- `signTransaction`, `signTypedData`: the canonical JSON (RFC 8785) of the payload. (A real
  wallet would sign the chain's encoding, e.g. an EIP-1559 transaction hash; this example
  keeps to what the standard library and `cryptography` provide.)

Run it against a gateway (it fetches the JWKS once, after verifying the enclaves'
attestations when given the deployment's state directory, for simulated enclaves):

    python examples/vault/server.py --accord-url http://127.0.0.1:8080 [--state-dir state] [--port 8090]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Depends, FastAPI, HTTPException

from accord.protocols import canonical_json
from accord.protocols.jwk import SigningKey, b64url_encode
from accord.resource import AccessVerifier, AccordAuth, VerifiedAccess

AUDIENCE = "accord-resource-servers"  # EvaluatorConfig's default audience
ISSUER = "accord"
DEFAULT_ACCOUNTS = ("ops-wallet", "treasury-hot", "treasury-cold", "payroll", "base-ops")
SIGNED_ACTIONS = ("signMessage", "signTransaction", "signTypedData")


def message_to_sign(action: str, payload: Mapping[str, Any]) -> bytes:
    """The bytes the vault signs for an authorized request."""
    if action == "signMessage":
        return str(payload["message"]).encode("utf-8")
    return canonical_json.dumps(dict(payload))


def create_vault_app(jwks: Mapping[str, Any], *, accounts: Iterable[str] = DEFAULT_ACCOUNTS,
                     audience: str = AUDIENCE, issuer: str = ISSUER, public_base_url: str | None = None) -> FastAPI:  # fmt: skip
    """The vault: one new key per account, tokens verified against `jwks`."""
    keys = {account: SigningKey.generate() for account in accounts}
    auth = AccordAuth(AccessVerifier(jwks, audience=audience, issuer=issuer, single_use=True),
                      public_base_url=public_base_url)  # fmt: skip
    app = FastAPI(title="Accord example vault")

    @app.get("/v1/keys")
    def public_keys() -> dict[str, Any]:
        """Each account's public key (to verify the vault's signatures)."""
        return {account: key.public.to_dict() for account, key in keys.items()}

    @app.post("/v1/sign")
    def sign(access: VerifiedAccess = Depends(auth)) -> dict[str, Any]:
        """Sign what the presented token authorizes, with the account's key."""
        if access.action not in SIGNED_ACTIONS:
            raise HTTPException(400, {"code": "unsupported_action", "message": f"the vault does not {access.action}"})
        key = keys.get(access.resource)
        if key is None:
            raise HTTPException(404, {"code": "unknown_account", "message": f"no key for account {access.resource!r}"})
        message = message_to_sign(access.action, access.payload)
        return {
            "account": access.resource, "action": access.action, "principal": access.principal,
            "token_id": access.claims.jti, "signed": b64url_encode(message),
            "signature": b64url_encode(key.crypto_key().sign(message)), "public_key": key.public.to_dict(),
        }  # fmt: skip

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from accord.client import Client, Release

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accord-url", required=True, help="the Accord gateway (its JWKS is fetched once)")
    parser.add_argument("--release", help="the operator's published release: verify the enclaves' attestations against it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    with Client(SigningKey.generate(), base_url=args.accord_url) as accord:
        jwks = accord.verified_jwks(Release.load(args.release)).jwks if args.release else accord.jwks()
    uvicorn.run(create_vault_app(jwks), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
