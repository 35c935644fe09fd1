"""Polynomials and verifiable secret sharing (RFC 9591, Section 4.2 and Appendix C).

Secret polynomials are evaluated with libsodium's constant-time scalar arithmetic; their
public commitments (Feldman VSS) are lists of Elements.
"""

from __future__ import annotations

from collections.abc import Sequence

from accord.protocols.frost import ciphersuite as cs
from accord.protocols.frost.ciphersuite import Element
from accord.protocols.frost.errors import UnknownParticipant
from accord.protocols.frost.identifier import Identifier, unique_sorted


def polynomial_evaluate(x: Identifier, coefficients: Sequence[bytes]) -> bytes:
    """f(x) for f with the given coefficients (constant term first), by Horner's rule."""
    x_scalar = x.to_bytes()
    value = bytes(cs.SCALAR_SIZE)
    for coefficient in reversed(coefficients):
        value = cs.scalar_add(cs.scalar_mul(value, x_scalar), coefficient)
    return value


def vss_commit(coefficients: Sequence[bytes]) -> tuple[Element, ...]:
    """The public commitment [a_0 * G, ..., a_(t-1) * G] to a secret polynomial."""
    return tuple(cs.scalar_base_mult(c) for c in coefficients)


def vss_evaluate(commitment: Sequence[Element], x: Identifier, first_power: int = 0) -> Element:
    """sum_j commitment[j] * x^(j + first_power): the public image f(x) * G of a committed
    polynomial. `first_power=1` serves commitments that omit a zero constant term (refresh)."""
    terms = []
    for power, element in enumerate(commitment, start=first_power):
        if power == 0:
            terms.append(element)
        else:
            terms.append(cs.scalar_mult(cs.serialize_scalar(pow(x.value, power, cs.ORDER)), element))
    return cs.sum_elements(terms, "committed polynomial value")


def vss_verify(share: bytes, x: Identifier, commitment: Sequence[Element], first_power: int = 0) -> bool:
    """Whether share * G equals the committed polynomial's value at x."""
    return cs.scalar_base_mult(share) == vss_evaluate(commitment, x, first_power)


def derive_interpolating_value(participants: Sequence[Identifier], x_i: Identifier) -> int:
    """The Lagrange coefficient of x_i for interpolation at 0 over `participants`
    (public values, so plain integer arithmetic)."""
    unique_sorted(participants)
    if x_i not in participants:
        raise UnknownParticipant(f"identifier {x_i.value} is not among the participants")
    numerator = denominator = 1
    for x_j in participants:
        if x_j != x_i:
            numerator = numerator * x_j.value % cs.ORDER
            denominator = denominator * (x_j.value - x_i.value) % cs.ORDER
    return numerator * pow(denominator, -1, cs.ORDER) % cs.ORDER
