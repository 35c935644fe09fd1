"""The decision contract: what `data.accord.decision` must return, as a typed value.

A policy answers `{"decision": "permit"|"forbid"|"confirm", "reasons": [...],
"approvals": {"required": [...], "missing": [...], "satisfied": [...]}}` where each approval
item is `{"id", "count", "of", "approvers"}`. The engine's answer is untrusted until
`Decision.from_policy_output` has checked every member: anything malformed becomes a forbid
whose reason names the problem, so a buggy policy can never read as a permit. Reasons and
approval lists are sorted, so that the canonical JSON of a decision is the same on every
evaluator whatever order an engine produced.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from accord.protocols import canonical_json


class Verdict(enum.Enum):
    """The three answers a policy can give."""

    PERMIT = "permit"
    FORBID = "forbid"
    CONFIRM = "confirm"  # permit once the missing approvals are given


@dataclass(frozen=True, order=True)
class ApprovalRequirement:
    """`count` approvals from `of` (e.g. "group:treasury-approvers"); `approvers` are the
    verified approver principal ids that count towards it."""

    id: str
    count: int
    of: str
    approvers: tuple[str, ...] = ()

    @property
    def met(self) -> bool:
        return len(self.approvers) >= self.count

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "count": self.count, "of": self.of, "approvers": list(self.approvers)}


@dataclass(frozen=True)
class Approvals:
    """Approval requirements of the rules that decided; `missing` and `satisfied` split
    `required`."""

    required: tuple[ApprovalRequirement, ...] = ()
    missing: tuple[ApprovalRequirement, ...] = ()
    satisfied: tuple[ApprovalRequirement, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            name: [item.to_dict() for item in getattr(self, name)]
            for name in ("required", "missing", "satisfied")
        }


class MalformedDecision(ValueError):
    """Internal: the policy output breaks the contract (turned into a forbid, never raised
    out of this module)."""


@dataclass(frozen=True)
class Decision:
    """A validated policy decision."""

    decision: Verdict
    reasons: tuple[str, ...]
    approvals: Approvals = field(default_factory=Approvals)

    @property
    def permitted(self) -> bool:
        return self.decision is Verdict.PERMIT

    @classmethod
    def forbid(cls, reason: str) -> Decision:
        """A forbid with one reason (engine error, malformed output, refused input)."""
        return cls(Verdict.FORBID, (reason,))

    @classmethod
    def from_policy_output(cls, value: Any) -> Decision:
        """Validate what the engine returned for `data.accord.decision`. Never raises:
        a malformed value is a forbid naming the problem."""
        try:
            return _parse_decision(value)
        except MalformedDecision as exc:
            return cls.forbid(f"malformed policy decision: {exc}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "reasons": list(self.reasons),
            "approvals": self.approvals.to_dict(),
        }

    def to_json(self) -> bytes:
        """Canonical JSON (RFC 8785): identical bytes on every evaluator that agrees."""
        return canonical_json.dumps(self.to_dict())


def _exact_object(value: Any, keys: set[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedDecision(f"{where} must be an object, got {_kind(value)}")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise MalformedDecision(f"{where} members: {', '.join(parts)}")
    return value


def _strings(value: Any, where: str, *, unique: bool) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise MalformedDecision(f"{where} must be an array, got {_kind(value)}")
    for item in value:
        if not isinstance(item, str) or not item:
            raise MalformedDecision(f"{where} must hold non-empty strings, found {item!r}")
    if unique and len(set(value)) != len(value):
        raise MalformedDecision(f"{where} has duplicates")
    return tuple(sorted(set(value)))


def _requirement(value: Any, where: str) -> ApprovalRequirement:
    obj = _exact_object(value, {"id", "count", "of", "approvers"}, where)
    count = obj["count"]
    if type(count) is not int or count < 1:
        raise MalformedDecision(f"{where}.count must be a positive integer, got {count!r}")
    for name in ("id", "of"):
        if not isinstance(obj[name], str) or not obj[name]:
            raise MalformedDecision(f"{where}.{name} must be a non-empty string")
    approvers = _strings(obj["approvers"], f"{where}.approvers", unique=True)
    return ApprovalRequirement(obj["id"], count, obj["of"], approvers)


def _requirements(value: Any, where: str) -> tuple[ApprovalRequirement, ...]:
    if not isinstance(value, list):
        raise MalformedDecision(f"{where} must be an array, got {_kind(value)}")
    items = [_requirement(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if len({item.id for item in items}) != len(items):
        raise MalformedDecision(f"{where} has duplicate ids")
    return tuple(sorted(items))


def _parse_approvals(value: Any) -> Approvals:
    obj = _exact_object(value, {"required", "missing", "satisfied"}, "approvals")
    required, missing, satisfied = (
        _requirements(obj[name], f"approvals.{name}") for name in ("required", "missing", "satisfied")
    )
    if set(missing) & set(satisfied) or set(missing) | set(satisfied) != set(required):
        raise MalformedDecision("approvals.missing and approvals.satisfied must split approvals.required")
    if any(item.met for item in missing):
        raise MalformedDecision("approvals.missing holds a requirement that has enough approvers")
    if not all(item.met for item in satisfied):
        raise MalformedDecision("approvals.satisfied holds a requirement without enough approvers")
    return Approvals(required, missing, satisfied)


def _parse_decision(value: Any) -> Decision:
    obj = _exact_object(value, {"decision", "reasons", "approvals"}, "decision document")
    try:
        verdict = Verdict(obj["decision"])
    except (ValueError, TypeError):
        raise MalformedDecision(f"decision must be permit, forbid or confirm, got {obj['decision']!r}") from None
    reasons = _strings(obj["reasons"], "reasons", unique=False)
    approvals = _parse_approvals(obj["approvals"])
    if verdict is not Verdict.PERMIT and not reasons:
        raise MalformedDecision(f"a {verdict.value} must give at least one reason")
    if verdict is Verdict.PERMIT and approvals.missing:
        raise MalformedDecision("a permit cannot have missing approvals")
    if verdict is Verdict.CONFIRM and not approvals.missing:
        raise MalformedDecision("a confirm must name the missing approvals")
    return Decision(verdict, reasons, approvals)


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
