"""The Ed25519 group as FROST uses it: every received point validated, with the reason."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings as sodium

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import (
    DuplicateIdentifier,
    FrostError,
    InvalidIdentifier,
    InvalidLength,
    InvalidPoint,
    MalformedEncoding,
    PointDefect,
)
from accord.protocols.frost.identifier import Identifier, unique_sorted
from accord.errors import AccordError

P = 2**255 - 19
IDENTITY = b"\x01" + bytes(31)
# The points of order 8, 4 and 2 (a cyclic torsion group: edwards25519 has cofactor 8).
ORDER_8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
SMALL_ORDER = [
    ORDER_8,
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    bytes(32),  # (sqrt(-1), 0), order 4
    bytes(31) + b"\x80",  # (-sqrt(-1), 0), order 4
    (P - 1).to_bytes(32, "little"),  # (0, -1), order 2
]
scalars = st.integers(min_value=1, max_value=cs.ORDER - 1).map(cs.serialize_scalar)


def defect(buf: bytes) -> PointDefect:
    with pytest.raises(InvalidPoint) as caught:
        cs.deserialize_element(buf)
    return caught.value.defect


def test_errors_are_accord_errors():
    assert issubclass(InvalidPoint, FrostError) and issubclass(FrostError, AccordError)


def test_valid_point_round_trips():
    point = cs.scalar_base_mult(cs.random_scalar())
    assert cs.deserialize_element(point.encoding) == point
    assert Element(point.encoding) == point


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_wrong_length(length):
    with pytest.raises(InvalidLength, match="32 bytes"):
        cs.deserialize_element(bytes(length))


def test_identity_rejected():
    assert defect(IDENTITY) is PointDefect.IDENTITY
    with pytest.raises(InvalidPoint, match="identity"):
        cs.deserialize_element(IDENTITY)


@pytest.mark.parametrize(
    "encoding",
    [
        (P + 1).to_bytes(32, "little"),  # y = p + 1 (the identity's y, unreduced)
        (2**255 - 1).to_bytes(32, "little"),  # y = 2^255 - 1 >= p
        IDENTITY[:31] + b"\x80",  # x = 0 with the sign bit set ("-0")
        (P - 1).to_bytes(32, "little")[:31] + b"\xff",  # (0, -1) with the sign bit set
    ],
)
def test_non_canonical_rejected(encoding):
    assert defect(encoding) is PointDefect.NON_CANONICAL


def test_not_on_curve_rejected():
    assert defect((2).to_bytes(32, "little")) is PointDefect.NOT_ON_CURVE


@pytest.mark.parametrize("encoding", SMALL_ORDER)
def test_small_order_rejected(encoding):
    assert defect(encoding) is PointDefect.SMALL_ORDER


@settings(max_examples=25, deadline=None)
@given(scalar=scalars, torsion=st.sampled_from(SMALL_ORDER))
def test_torsion_component_rejected(scalar, torsion):
    valid = cs.scalar_base_mult(scalar).encoding
    mixed = sodium.crypto_core_ed25519_add(valid, torsion)
    assert defect(mixed) is PointDefect.NOT_IN_SUBGROUP


@settings(max_examples=25, deadline=None)
@given(scalar=scalars)
def test_multiples_of_the_generator_are_valid(scalar):
    point = cs.scalar_base_mult(scalar)
    assert cs.deserialize_element(point.encoding) == point


def test_unpickling_revalidates():
    point = cs.scalar_base_mult(cs.random_scalar())
    assert pickle.loads(pickle.dumps(point)) == point
    forged = pickle.dumps(point).replace(point.encoding, sodium.crypto_core_ed25519_add(point.encoding, ORDER_8))
    with pytest.raises(InvalidPoint) as caught:
        pickle.loads(forged)
    assert caught.value.defect is PointDefect.NOT_IN_SUBGROUP


def test_element_is_immutable():
    point = cs.scalar_base_mult(cs.random_scalar())
    with pytest.raises(AttributeError):
        point.encoding = IDENTITY


def test_sum_to_identity_is_an_error():
    s = cs.random_scalar()
    point, negated = cs.scalar_base_mult(s), cs.scalar_base_mult(sodium.crypto_core_ed25519_scalar_negate(s))
    assert cs.sum_elements([point]) == point
    with pytest.raises(InvalidPoint, match="identity"):
        cs.sum_elements([point, negated])


def test_scalars():
    assert cs.deserialize_scalar(cs.serialize_scalar(cs.ORDER - 1)) == cs.serialize_scalar(cs.ORDER - 1)
    with pytest.raises(MalformedEncoding, match="not below the group order"):
        cs.deserialize_scalar(cs.ORDER.to_bytes(32, "little"))
    with pytest.raises(InvalidLength):
        cs.deserialize_scalar(bytes(31))


def test_hashes_are_domain_separated():
    assert cs.H1(b"x") != cs.H3(b"x") != cs.HDKG(b"x")
    assert cs.H4(b"x") != cs.H5(b"x")
    assert len(cs.H4(b"x")) == 64 and len(cs.H1(b"x")) == 32


class TestIdentifier:
    def test_range(self):
        assert Identifier(1).to_bytes() == b"\x01" + bytes(31)
        assert Identifier.from_bytes(Identifier(257).to_bytes()) == Identifier(257)
        for bad in (0, -1, cs.ORDER):
            with pytest.raises(InvalidIdentifier):
                Identifier(bad)
        with pytest.raises(InvalidIdentifier):
            Identifier(True)

    def test_from_bytes(self):
        with pytest.raises(InvalidIdentifier, match=r"\[1, L-1\]"):
            Identifier.from_bytes(bytes(32))
        with pytest.raises(InvalidIdentifier, match="not canonical"):
            Identifier.from_bytes(cs.ORDER.to_bytes(32, "little"))
        with pytest.raises(InvalidLength):
            Identifier.from_bytes(bytes(8))

    def test_order_and_uniqueness(self):
        assert unique_sorted([Identifier(3), Identifier(1), Identifier(256)]) == (
            Identifier(1), Identifier(3), Identifier(256),
        )
        with pytest.raises(DuplicateIdentifier, match="2"):
            unique_sorted([Identifier(2), Identifier(1), Identifier(2)])
