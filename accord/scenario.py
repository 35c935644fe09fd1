"""The treasury scenario of `accord demo`, the notebooks, the benchmark and the tests.

Principals with fresh keys put into the policy library's example data, an administrator
key, and bundles published from that data; plus the three requests that show each kind of
decision: Bob (treasury-ops) moving USDC between the company's own wallets (permit), paying
50,000 USDC to an exchange (confirm: two approvers of the `approvers` group must sign), and
asking for a raw signature (forbid: nobody signs raw bytes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from accord.bundles.publish import library_bundle, library_data, publish, with_principal
from accord.client import Client
from accord.protocols.jwk import KeyKind, PublicJwk, SigningKey

USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def erc20_transfer(to: str, units: int) -> dict:
    """A USDC transfer of `units` base units to `to` (ERC-20 transfer(address,uint256))."""
    return {"chain_id": 1, "to": USDC, "value": "0", "data": "0xa9059cbb" + to[2:].rjust(64, "0") + format(units, "064x")}


@dataclasses.dataclass
class Scenario:
    """Principals with keys, the data they are in, and where the bundle is published."""

    admin: SigningKey
    bob: Client  # treasury-ops: internal transfers permitted, large payouts need approvals
    dave: Client  # approver
    erin: Client  # approver (P-256 key)
    mallory: Client  # a key no principal holds
    data: dict
    directory: Path
    operators: tuple[Client, ...] = ()  # extra treasury-ops members (ops-0, ops-1, ...) for load tests

    def address(self, classification: str) -> str:
        return next(k.split(":")[2] for k, v in self.data["address_book"].items()
                    if v.get("classification") == classification and k.startswith("eip155:1:"))  # fmt: skip

    def publish(self, version: int, data: dict | None = None):
        return publish(library_bundle(data or self.data), self.admin, self.directory / f"v{version}", version=version)

    # The three kinds of decision the demo shows.
    def permit_request(self, units: int = 5_000_000, *, client: Client | None = None, **kw):
        return internal_transfer(client or self.bob, self.address("internal"), units, **kw)

    def confirm_request(self, approvals=(), **kw):
        payload = erc20_transfer(self.address("exchange"), 50_000_000_000)
        return self.bob.signed_request("signTransaction", "ops-wallet", payload, approvals, **kw)

    def forbid_request(self, **kw):
        return self.bob.signed_request("signRaw", "ops-wallet", {"raw": "0xdeadbeef"}, **kw)


def internal_transfer(client: Client, to: str, units: int = 5_000_000, **kw):
    """`client` asks to sign a USDC transfer of `units` to the company's own wallet `to`:
    permitted for a treasury-ops member under its spending and rate limits."""
    return client.signed_request("signTransaction", "ops-wallet", erc20_transfer(to, units), **kw)


def operator_principals(keys: Sequence[PublicJwk], first: int = 0) -> dict[str, dict]:
    """Principals `ops-<first>`, `ops-<first+1>`, ... of the treasury-ops group, one key each."""
    return {f"ops-{first + index}": {"roles": ["member"], "groups": ["treasury-ops"],
                                     "keys": {key.thumbprint: key.to_dict()}}
            for index, key in enumerate(keys)}  # fmt: skip


def make_scenario(directory: str | Path, *, operators: int = 0) -> Scenario:
    """Fresh keys for Bob, Dave, Erin (principals of the example data) and Mallory (nobody),
    plus `operators` more treasury-ops members; bundles are published under `directory`.
    (Each operator may sign 20 transfers an hour under the library's rate limit, so a load
    test spreads its requests over many.)"""
    bob, dave = Client(SigningKey.generate()), Client(SigningKey.generate())
    erin, mallory = Client(SigningKey.generate(KeyKind.P256)), Client(SigningKey.generate())
    data = library_data()
    for name, client in (("bob", bob), ("dave", dave), ("erin", erin)):
        data = with_principal(data, name, client.key.public)
    extra = tuple(Client(SigningKey.generate()) for _ in range(operators))
    # `data` is already this scenario's own copy
    data["principals"].update(operator_principals([client.key.public for client in extra]))
    return Scenario(SigningKey.generate(), bob, dave, erin, mallory, data, Path(directory), extra)
