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
        index, problems = _build(data)
        if problems:
            raise DataError("\n".join(problems))
        self._index = MappingProxyType(index)

    @staticmethod
    def problems(data: Mapping[str, Any]) -> list[str]:
        """Every problem of `data.principals`, one line each (empty: it indexes)."""
        return _build(data)[1]

    def get(self, thumbprint: str) -> PrincipalKey | None:
        return self._index.get(thumbprint)

    def resolve_key(self, thumbprint: str) -> PublicJwk | None:
        """The key resolver the RFC 9421 and approval verifiers take."""
        found = self._index.get(thumbprint)
        return found.key if found else None

    def __len__(self) -> int:
        return len(self._index)


def _build(data: Mapping[str, Any]) -> tuple[dict[str, PrincipalKey], list[str]]:
    principals = data.get("principals", {})
    if not isinstance(principals, Mapping):
        return {}, ["data.principals must be an object of principal id -> {keys: ...}"]
    index: dict[str, PrincipalKey] = {}
    problems: list[str] = []
    for principal, entry in sorted(principals.items()):
        keys = entry.get("keys", {}) if isinstance(entry, Mapping) else None
        if not isinstance(keys, Mapping):
            problems.append(f"data.principals.{principal}.keys must be an object of thumbprint -> JWK")
            continue
        for thumbprint, jwk in sorted(keys.items()):
            try:
                key = PublicJwk.from_dict(jwk)
            except AccordError as exc:
                problems.append(f"data.principals.{principal}.keys.{thumbprint}: {exc}")
                continue
            if key.thumbprint != thumbprint:
                problems.append(f"data.principals.{principal}.keys: {thumbprint!r} is not the thumbprint of its JWK "
                                f"({key.thumbprint})")  # fmt: skip
            elif thumbprint in index:
                problems.append(f"key {thumbprint} belongs to both {index[thumbprint].principal!r} and {principal!r}")
            else:
                index[thumbprint] = PrincipalKey(principal, key)
    return index, problems
