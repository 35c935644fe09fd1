"""The decision contract: strict validation of what a policy returns."""

from __future__ import annotations

import json

import pytest
import rfc8785

from accord.bundles.decision import ApprovalRequirement, Decision, Verdict

ITEM = {"id": "r#0", "count": 2, "of": "group:approvers", "approvers": ["dave", "erin"]}
SHORT = {"id": "r#1", "count": 1, "of": "role:cfo", "approvers": []}


def output(decision="permit", reasons=("ok",), required=(), missing=(), satisfied=()):
    return {
        "decision": decision,
        "reasons": list(reasons),
        "approvals": {"required": list(required), "missing": list(missing), "satisfied": list(satisfied)},
    }


def test_valid_permit():
    d = Decision.from_policy_output(output(required=[ITEM], satisfied=[ITEM]))
    assert d.permitted and d.reasons == ("ok",)
    assert d.approvals.satisfied == (ApprovalRequirement("r#0", 2, "group:approvers", ("dave", "erin")),)


def test_valid_confirm():
    d = Decision.from_policy_output(output("confirm", ["needs cfo"], [ITEM, SHORT], [SHORT], [ITEM]))
    assert d.decision is Verdict.CONFIRM and not d.permitted
    assert [i.id for i in d.approvals.missing] == ["r#1"]


def test_canonical_json_is_sorted_and_rfc8785():
    d = Decision.from_policy_output(output("forbid", ["b", "a", "b"]))
    assert d.reasons == ("a", "b")
    assert d.to_json() == rfc8785.dumps(json.loads(d.to_json()))
    assert d.to_json().startswith(b'{"approvals":{"missing":[],"required":[],"satisfied":[]},"decision":"forbid"')


def test_order_of_engine_output_does_not_matter():
    one = Decision.from_policy_output(output("confirm", ["x", "y"], [ITEM, SHORT], [SHORT], [ITEM]))
    two = Decision.from_policy_output(output("confirm", ["y", "x"], [SHORT, ITEM], [SHORT], [ITEM]))
    assert one.to_json() == two.to_json()


MALFORMED = {
    "not an object": (["permit"], "decision document must be an object"),
    "missing member": ({"decision": "permit", "reasons": []}, "missing ['approvals']"),
    "extra member": ({**output(), "token": "x"}, "unexpected ['token']"),
    "unknown verdict": (output("allow"), "permit, forbid or confirm"),
    "verdict not a string": (output(True), "permit, forbid or confirm"),
    "reasons not a list": ({**output(), "reasons": "ok"}, "reasons must be an array"),
    "empty reason": (output(reasons=[""]), "non-empty strings"),
    "reason not a string": (output(reasons=[1]), "non-empty strings"),
    "forbid without reason": (output("forbid", []), "at least one reason"),
    "permit with missing approvals": (output(required=[SHORT], missing=[SHORT]), "cannot have missing"),
    "confirm without missing": (output("confirm", ["x"]), "must name the missing"),
    "missing not in required": (output("confirm", ["x"], [], [SHORT]), "split approvals.required"),
    "required not split": (output(required=[ITEM]), "split approvals.required"),
    "satisfied without approvers": (output(required=[SHORT], satisfied=[SHORT]), "without enough approvers"),
    "missing with enough approvers": (output("confirm", ["x"], [ITEM], [ITEM]), "has enough approvers"),
    "count not positive": (output(required=[{**ITEM, "count": 0}], satisfied=[{**ITEM, "count": 0}]), "positive integer"),
    "count is a boolean": (output(required=[{**ITEM, "count": True}], satisfied=[{**ITEM, "count": True}]), "positive integer"),
    "duplicate ids": (output(required=[ITEM, ITEM], satisfied=[ITEM, ITEM]), "duplicate ids"),
    "duplicate approvers": (output(required=[{**ITEM, "approvers": ["a", "a"]}], satisfied=[{**ITEM, "approvers": ["a", "a"]}]), "duplicates"),
    "item member missing": (output(required=[{"id": "r", "count": 1, "of": "x"}]), "missing ['approvers']"),
    "undefined marker": ("<undefined>", "must be an object"),
}


@pytest.mark.parametrize("value, problem", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_output_is_a_forbid_naming_the_problem(value, problem):
    d = Decision.from_policy_output(value)
    assert d.decision is Verdict.FORBID
    assert len(d.reasons) == 1 and d.reasons[0].startswith("malformed policy decision: ")
    assert problem in d.reasons[0]
