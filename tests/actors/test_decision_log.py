"""Decision logs: every evaluator logs each decided request, chained and signed by its
attested identity key; `accord log verify` finds a changed byte, a removed entry, a
reordered line or file, lost batches after a restart, and evaluators that disagree."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.cli import main
from accord.cluster.deployment import Deployment
from accord.enclave.decision_log import LoggedRequest, LogReport, compare_group, log_files
from accord.protocols.authz_request import parse_authorization_request
from accord.protocols.minting import Status

EVALUATORS = ("g0-e0-evaluator", "g0-e1-evaluator", "g0-e2-evaluator")


@pytest.fixture
def logged(scenario, tmp_path):
    """A deployment that decided a permit, a forbid and a confirm, then switched bundles."""
    state = tmp_path / "state"
    deployment = Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    results = deployment.authorize_many([scenario.permit_request(), scenario.forbid_request(),
                                         scenario.confirm_request()])  # fmt: skip
    assert [r.status for r in results] == [Status.PERMIT, Status.FORBID, Status.CONFIRM]
    deployment.load_bundle(scenario.publish(2))
    assert deployment.authorize(scenario.permit_request()).status is Status.PERMIT
    return deployment, state


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def lines(state, enclave="g0-e1-evaluator"):
    (path,) = log_files(state / "logs" / enclave)
    return path, path.read_bytes().splitlines(keepends=True)


def test_a_log_that_verifies_and_shows_each_request_once(logged):
    deployment, state = logged
    verified = run("log", "verify", "--state-dir", state, "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output)
    assert report["valid"] and sorted(report["enclaves"]) == list(EVALUATORS)
    assert all(e["decisions"] == 4 and e["batches"] == 3 for e in report["enclaves"].values())  # 2 batches + switch
    shown = [json.loads(line) for line in run("log", "show", "--state-dir", state, "--json").output.splitlines()]
    assert [r["decision"] for r in shown] == ["permit", "forbid", "confirm", "permit"]
    assert all(sorted(r["enclaves"]) == list(EVALUATORS) for r in shown)
    permit = shown[0]
    assert permit["principal"] == "bob" and permit["kid"] == deployment.jwks()["keys"][0]["kid"]
    assert len(permit["payload_hash"]) == 64 and "payload" not in permit  # the payload only as a hash
    assert shown[-1]["bundle"] != permit["bundle"]  # decided after the switch
    text = run("log", "show", "--state-dir", state, "--tail", "1").output
    assert text.count("\n") == 1 and "signTransaction ops-wallet: permit" in text and "[3 enclaves]" in text


def _refused(state, *expected):
    result = run("log", "verify", "--state-dir", state)
    assert result.exit_code == 1, result.output
    for text in expected:
        assert text in result.output, result.output
    return result.output


def test_one_changed_byte_is_found(logged):
    _, state = logged
    path, content = lines(state)
    index = next(i for i, line in enumerate(content) if b'"decision":"forbid"' in line)
    content[index] = content[index].replace(b'"decision":"forbid"', b'"decision":"permit"')
    path.write_bytes(b"".join(content))
    _refused(state, f"INVALID: g0-e1-evaluator: {path.name} line {index + 1}: entry", "was changed")


def test_a_removed_entry_is_found(logged):
    _, state = logged
    path, content = lines(state)
    index = next(i for i, line in enumerate(content) if b'"decision":"forbid"' in line)
    path.write_bytes(b"".join(content[:index] + content[index + 1:]))
    _refused(state, f"{path.name} line {index + 1}", "an entry was removed, inserted or reordered")


def test_reordered_lines_are_found(logged):
    _, state = logged
    path, content = lines(state)
    content[2], content[3] = content[3], content[2]
    path.write_bytes(b"".join(content))
    _refused(state, f"{path.name} line 3", "removed, inserted or reordered")


def test_reordered_files_are_found(scenario, tmp_path):
    state = tmp_path / "state"
    deployment = Deployment.in_process(state_dir=state, bundle=scenario.publish(1))
    for ev in deployment.handles.groups[0].evaluators:
        ev.core._decisions._max = 4000  # rotate after about one batch
    for _ in range(3):
        deployment.authorize(scenario.forbid_request())
    files = log_files(state / "logs" / "g0-e0-evaluator")
    assert len(files) >= 2
    assert run("log", "verify", "--state-dir", state).exit_code == 0
    first, second = files[0].read_bytes(), files[1].read_bytes()
    files[0].write_bytes(second)
    files[1].write_bytes(first)
    _refused(state, f"{files[0].name} line 1")


def test_a_restart_reopens_the_chain_and_a_truncated_log_shows_the_lost_batches(logged, scenario):
    from test_group_state import restart_evaluator

    deployment, state = logged
    restart_evaluator(deployment, 1)
    assert deployment.authorize(scenario.forbid_request()).status is Status.FORBID
    assert run("log", "verify", "--state-dir", state).exit_code == 0  # a second attested open, chain continues

    path, content = lines(state)
    cut = max(i for i, line in enumerate(content) if b'"kind":"open"' in line)
    path.write_bytes(b"".join(content[:cut]))  # the host drops the newest batch, then the enclave restarts
    restart_evaluator(deployment, 1)
    deployment.authorize(scenario.forbid_request())
    _refused(state, "g0-e1-evaluator", "are missing from this log")


def test_evaluators_that_logged_otherwise_are_named():
    entry = {"jti": "j1", "seq": 4, "decision": "permit", "request_hash": "h", "principal": "bob",
             "action": "signMessage", "resource": "w", "bundle": "b", "time": 1}  # fmt: skip
    a, b, c = (LogReport(e, decisions=[dict(entry)], batches={4}) for e in EVALUATORS)
    assert compare_group([a, b, c]) == []
    b.decisions[0]["decision"] = "forbid"
    c.decisions = []
    problems = compare_group([a, b, c])
    assert any("g0-e1-evaluator logged forbid and g0-e0-evaluator permit" in p for p in problems)
    assert any("missing from g0-e2-evaluator" in p for p in problems)


def test_no_logs_is_a_clear_error(tmp_path):
    result = run("log", "verify", "--state-dir", tmp_path)
    assert result.exit_code != 0 and "no decision logs under" in result.output


_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
_values = st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                       max_leaves=10)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(action=_text, resource=_text, payload=st.dictionaries(_text, _values, max_size=4), spaced=st.booleans())
def test_what_the_evaluator_logs_of_a_parsed_request_is_what_its_body_says(action, resource, payload, spaced):
    """The evaluator hands the log what it parsed (no second parse); a request refused
    before its body was parsed is logged from the body. Both must name the same."""
    body = json.dumps({"payload": payload, "resource": resource, "action": action},
                      separators=(", ", ": ") if spaced else (",", ":")).encode()  # fmt: skip
    parsed = parse_authorization_request(body)
    from_parse = LoggedRequest.of_request(parsed)  # what the evaluator logs
    assert LoggedRequest.of_body(body) == from_parse
