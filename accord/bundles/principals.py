"""The principals of a verified bundle, indexed by key thumbprint.

Signed data names every principal and its public keys: `principals.<id>.keys` maps each
key's RFC 7638 thumbprint (the `keyid` of its signed requests) to its public JWK. The index
is built once per bundle revision, and it refuses data whose thumbprints do not match their
keys or that gives one key to two principals: either would let a request be attributed to
someone other than the key holder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from accord.bundles.policy_errors import DataError
from accord.errors import AccordError
from accord.protocols.jwk import PublicJwk


@dataclass(frozen=True)
class PrincipalKey:
    principal: str
    key: PublicJwk


class PrincipalIndex:
    """thumbprint -> (principal id, public key), from `data.principals`."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        principals = data.get("principals", {})
        if not isinstance(principals, Mapping):
            raise DataError("data.principals must be an object")
        index: dict[str, PrincipalKey] = {}
        for principal, entry in sorted(principals.items()):
            keys = entry.get("keys", {}) if isinstance(entry, Mapping) else None
            if not isinstance(keys, Mapping):
                raise DataError(f"data.principals.{principal}.keys must be an object of thumbprint -> JWK")
            for thumbprint, jwk in sorted(keys.items()):
                try:
                    key = PublicJwk.from_dict(jwk)
                except AccordError as exc:
                    raise DataError(f"data.principals.{principal}.keys.{thumbprint}: {exc}") from None
                if key.thumbprint != thumbprint:
                    raise DataError(
                        f"data.principals.{principal}.keys: {thumbprint!r} is not the thumbprint of its JWK "
                        f"({key.thumbprint})"
                    )
                if thumbprint in index:
                    raise DataError(
                        f"key {thumbprint} belongs to both {index[thumbprint].principal!r} and {principal!r}"
                    )
                index[thumbprint] = PrincipalKey(principal, key)
        self._index = MappingProxyType(index)

    def get(self, thumbprint: str) -> PrincipalKey | None:
        return self._index.get(thumbprint)

    def resolve_key(self, thumbprint: str) -> PublicJwk | None:
        """The key resolver the RFC 9421 and approval verifiers take."""
        found = self._index.get(thumbprint)
        return found.key if found else None

    def __len__(self) -> int:
        return len(self._index)
