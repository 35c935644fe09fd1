"""Hypothesis strategies for fuzz inputs: raw bytes, byte-level mutations of seeds, and
structure-aware mutations (a CBOR or JSON seed decoded, one node replaced, re-encoded), so
that inputs get past the outer decoder into the checks behind it."""

from __future__ import annotations

import json
from typing import Any

import cbor2
from hypothesis import strategies as st

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=40),
                     st.binary(max_size=64), st.floats(allow_nan=True))  # fmt: skip
CBOR_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                             st.dictionaries(st.one_of(st.text(max_size=10), st.integers(0, 20)), inner, max_size=5)),
                           max_leaves=12)  # fmt: skip
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**64), 2**64), st.text(max_size=40),
              st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)),
    max_leaves=12,
)  # fmt: skip
_MUTATION = st.tuples(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "duplicate", "splice")),
                      st.integers(0, 2**20), st.binary(min_size=1, max_size=16))  # fmt: skip


def _apply(data: bytes, mutations, other: bytes) -> bytes:
    buf = bytearray(data)
    for kind, where, blob in mutations:
        at = where % (len(buf) + 1)
        if kind == "flip" and buf:
            buf[at % len(buf)] ^= 1 << (blob[0] % 8)
        elif kind == "set" and buf:
            buf[at % len(buf)] = blob[0]
        elif kind == "insert":
            buf[at:at] = blob
        elif kind == "delete":
            del buf[at : at + len(blob)]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "duplicate":
            buf[at:at] = buf[at : at + 64]
        elif kind == "splice":
            buf[at:] = other[where % (len(other) + 1):]
    return bytes(buf)


def _paths(value: Any, path=()) -> list[tuple]:
    found = [path]
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    return found


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]
    return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}


def _tagless(value: Any) -> Any:
    if isinstance(value, cbor2.CBORTag):
        return _tagless(value.value)
    if isinstance(value, list):
        return [_tagless(v) for v in value]
    if isinstance(value, dict):
        return {k: _tagless(v) for k, v in value.items()}
    return value


@st.composite
def structured(draw, seed: bytes, prefix: int) -> bytes:
    """`seed` (after `prefix` selector bytes) decoded as CBOR, else JSON; one node replaced."""
    head, body = seed[:prefix], seed[prefix:]
    for loads, dumps, values in ((cbor2.loads, cbor2.dumps, CBOR_VALUES),
                                 (json.loads, lambda v: json.dumps(v).encode(), JSON_VALUES)):  # fmt: skip
        try:
            value = _tagless(loads(body))
        except Exception:  # noqa: BLE001 - not this encoding: try the next
            continue
        paths = _paths(value)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        try:
            return head + dumps(_replace(value, path, draw(values)))
        except (TypeError, ValueError):  # e.g. JSON of a CBOR-only value
            return head + dumps(value)
    return seed


def inputs(seeds: list[bytes], prefix: int = 0):
    """The strategy for one target: a third raw bytes, the rest mutations of its seeds."""
    seeds = seeds or [b""]
    pick = st.sampled_from(seeds)
    byte_level = st.builds(_apply, pick, st.lists(_MUTATION, max_size=6), pick)
    structure = pick.flatmap(lambda seed: structured(seed, prefix))
    return st.one_of(st.binary(max_size=2048), byte_level, structure)
