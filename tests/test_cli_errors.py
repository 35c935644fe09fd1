"""Bad input fails fast, says exactly what is wrong (one line per problem, naming the file
and line or the data path) and never shows a traceback; `--debug` / ACCORD_DEBUG=1 do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from accord.bundles.publish import library_bundle, library_data, publish
from accord.bundles.keys import generate_signing_key
from accord.cli import main
from accord.cluster.bootstrap import BootstrapError
from accord.cluster.deployment import Deployment
from accord.commands.failures import problem_lines
from accord.errors import problems_by_source

REPO = Path(__file__).resolve().parent.parent
MINIMAL = REPO / "examples" / "minimal-policy"
KEYS_ERROR = "data.principals.bob.keys must be an object of thumbprint -> JWK"
NO_DECISION = "the policy does not define data.accord.decision"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def assert_clean(result):
    """Failed, and said so in `Error:`/`INVALID:` lines only: no trace, no Ray type."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "RayTaskError" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and all(line.startswith(("Error:", "INVALID:", "warning:", "Usage:", "Try ", "[", "  ")) for line in lines), lines


def policy_dir(tmp_path, *, policy: str | None = None, data: dict | None = None) -> Path:
    directory = tmp_path / "policy"
    directory.mkdir()
    (directory / "policy.rego").write_text(policy if policy is not None else (MINIMAL / "policy.rego").read_text())
    (directory / "data.json").write_text(json.dumps(data if data is not None else json.loads((MINIMAL / "data.json").read_text())))
    return directory


def keys_as_list() -> dict:
    data = json.loads((MINIMAL / "data.json").read_text())
    data["principals"]["bob"] = {"roles": [], "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}]}
    return data


# --- accord bundle build / verify, accord policy test: the enclave's load checks ---


def test_build_refuses_keys_given_as_a_list_and_writes_nothing(tmp_path):
    result = run("bundle", "build", policy_dir(tmp_path, data=keys_as_list()), "-o", tmp_path / "b.tar.gz", "--version", "1")
    assert_clean(result)
    assert f"Error: {KEYS_ERROR}" in result.output
    assert not (tmp_path / "b.tar.gz").exists()


def test_build_refuses_a_policy_without_a_decision(tmp_path):
    source = "package accord\n\nimport rego.v1\n\nallow if input.x\n"
    result = run("bundle", "build", policy_dir(tmp_path, policy=source), "-o", tmp_path / "b.tar.gz", "--version", "1")
    assert_clean(result)
    assert NO_DECISION in result.output and not (tmp_path / "b.tar.gz").exists()


def test_a_policy_may_omit_data_errors(tmp_path):
    source = (MINIMAL / "policy.rego").read_text().split("# Optional")[0]
    assert "data_errors" not in source
    result = run("bundle", "build", policy_dir(tmp_path, policy=source), "-o", tmp_path / "b.tar.gz", "--version", "1")
    assert result.exit_code == 0, result.output


def test_every_problem_gets_its_own_line_with_file_and_line(tmp_path):
    source = "package accord\n\nimport rego.v1\n\nx := time.now_ns()\n"
    data = keys_as_list()
    data["principals"]["alice"]["roles"] = "admin"
    result = run("bundle", "build", policy_dir(tmp_path, policy=source, data=data), "-o", tmp_path / "b.tar.gz",
                 "--version", "1")  # fmt: skip
    assert_clean(result)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: {KEYS_ERROR}",
        "Error: policy.rego:5: time.now_ns is not allowed in a decision policy: its result is not the same on every evaluator",
        f'Error: {NO_DECISION}: every bundle needs it (see "The decision contract" in the README)',
    ]


def test_the_policy_data_errors_refuse_the_build(tmp_path):
    data = json.loads((MINIMAL / "data.json").read_text())
    data["principals"]["alice"]["roles"] = "admin"
    result = run("bundle", "build", policy_dir(tmp_path, data=data), "-o", tmp_path / "b.tar.gz", "--version", "1")
    assert_clean(result)
    assert "Error: data refused by the policy: data.principals.alice.roles must be an array" in result.output


def test_verify_runs_the_contract_on_a_signed_bundle(tmp_path):
    admin = generate_signing_key("Ed25519")
    data = library_data()
    first = next(iter(data["principals"]))
    data["principals"][first]["keys"] = ["not", "an", "object"]
    sources = publish(library_bundle(data), admin, tmp_path, version=1, contract=False)
    result = run("bundle", "verify", sources.bundle, "--signature", sources.signature, "--pubkey", sources.public_key)
    assert_clean(result)
    assert f"INVALID: ContractError: data.principals.{first}.keys must be an object of thumbprint -> JWK" in result.output


def test_policy_test_runs_the_contract(tmp_path):
    directory = policy_dir(tmp_path, data=keys_as_list())
    (directory / "policy_test.rego").write_text((MINIMAL / "policy_test.rego").read_text())
    result = run("policy", "test", directory)
    assert_clean(result)
    assert f"Error: {KEYS_ERROR}" in result.output


def test_the_minimal_policy_of_the_readme_is_complete_and_its_tests_pass(tmp_path):
    readme = (REPO / "README.md").read_text()
    assert (MINIMAL / "policy.rego").read_text().strip() in readme
    for engine in ("regorus",):
        assert run("policy", "test", MINIMAL, "--engine", engine).exit_code == 0
    assert run("bundle", "build", MINIMAL, "-o", tmp_path / "b.tar.gz", "--version", "1").exit_code == 0


# --- accord up: everything checked locally before a cluster starts ---


@pytest.fixture
def bad_sources(tmp_path):
    admin = generate_signing_key("Ed25519")
    data = library_data()
    first = next(iter(data["principals"]))
    data["principals"][first]["keys"] = []
    return publish(library_bundle(data), admin, tmp_path / "published", version=1, contract=False), first


def test_up_refuses_a_bad_bundle_before_starting_anything(tmp_path, bad_sources):
    sources, first = bad_sources
    state = tmp_path / "state"
    result = run("up", "--state-dir", state, "--bundle", sources.bundle, "--signature", sources.signature,
                 "--pubkey", sources.public_key)  # fmt: skip
    assert_clean(result)
    assert f"Error: nothing started: data.principals.{first}.keys must be an object of thumbprint -> JWK" in result.output
    assert not state.exists()  # no cluster, no state directory


def test_up_refuses_an_unpinned_key_before_starting_anything(tmp_path, bad_sources):
    sources, _ = bad_sources
    result = run("up", "--state-dir", tmp_path / "state", "--bundle", sources.bundle, "--signature", sources.signature,
                 "--pubkey", sources.public_key, "--pin", "ab" * 32)  # fmt: skip
    assert_clean(result)
    assert "Error: nothing started: " in result.output and "not pinned" in result.output.lower()


def test_up_refuses_an_unreachable_source(tmp_path, bad_sources):
    sources, _ = bad_sources
    result = run("up", "--state-dir", tmp_path / "state", "--bundle", tmp_path / "missing.tar.gz",
                 "--signature", sources.signature, "--pubkey", sources.public_key)  # fmt: skip
    assert_clean(result)
    assert "Error: nothing started: " in result.output and "missing.tar.gz" in result.output


def test_enclaves_saying_one_problem_are_one_line_naming_them(tmp_path, bad_sources):
    sources, first = bad_sources
    with pytest.raises(BootstrapError) as refused:
        Deployment.in_process(state_dir=tmp_path / "state", bundle=sources)
    assert refused.value.problems == (
        f"bundle refused: data.principals.{first}.keys must be an object of thumbprint -> JWK "
        "(said by g0-e0-evaluator, g0-e1-evaluator, g0-e2-evaluator)",
    )


# --- the state directory: one rule, and an error that says where it looked ---


@pytest.mark.parametrize("command", ["status", "serve"])
def test_no_deployment_in_the_default_state_directory_says_where_it_looked(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    result = run(command, env={"ACCORD_STATE_DIR": None})
    assert_clean(result)
    assert f"in {tmp_path / 'accord-state'} (state directory from the default ./accord-state)" in result.output
    assert "--state-dir DIR or ACCORD_STATE_DIR=DIR" in result.output
    assert not (tmp_path / "accord-state").exists()  # looking does not create it


def test_the_state_directory_comes_from_the_environment_then_the_option(tmp_path):
    from_env = run("status", env={"ACCORD_STATE_DIR": str(tmp_path / "env")})
    assert f"in {tmp_path / 'env'} (state directory from ACCORD_STATE_DIR)" in from_env.output
    from_option = run("status", "--state-dir", tmp_path / "opt", env={"ACCORD_STATE_DIR": str(tmp_path / "env")})
    assert f"in {tmp_path / 'opt'} (state directory from --state-dir)" in from_option.output


# --- the formatting itself, and --debug ---


class _RayTaskError(Exception):
    """Shaped like Ray's wrapper: module ray.exceptions, the actor's exception as `cause`."""

    def __init__(self, cause):
        super().__init__("ray::PolicyEvaluator.activate() (pid=1, ip=10.0.0.1)\nTraceback (most recent call last):\n  File \"x\"")
        self.cause = cause


_RayTaskError.__module__ = "ray.exceptions"


def test_ray_wrappers_report_the_actors_own_error():
    assert problem_lines(_RayTaskError(BootstrapError("group 0: sealed share does not open"))) == [
        "group 0: sealed share does not open"
    ]


def test_an_unexpected_exception_says_so_and_points_at_debug():
    (line,) = problem_lines(KeyError("x"))
    assert line == "unexpected KeyError: 'x' (run with --debug for the trace)"


def test_problems_are_deduplicated_across_sources():
    failures = [("e0", ValueError("a\nb")), ("e1", ValueError("a")), ("e2", ValueError("c")), ("e1", ValueError("a"))]
    assert problems_by_source(failures) == ["a (said by e0, e1)", "b (said by e0)", "c (said by e2)"]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_trace(tmp_path, how):
    directory = policy_dir(tmp_path, data=keys_as_list())
    args = ["bundle", "build", directory, "-o", tmp_path / "b.tar.gz", "--version", "1"]
    result = run(*(["--debug", *args] if how == "option" else args), env={"ACCORD_DEBUG": "1"} if how == "environment" else None)
    assert result.exit_code != 0 and type(result.exception).__name__ == "ContractError"


# --- no command prints a traceback on the bad inputs of the negative tests ---


BAD_INVOCATIONS = [
    ("bundle", "build", "{tmp}", "-o", "{tmp}/x.tar.gz", "--version", "1"),  # no .rego at all
    ("bundle", "verify", "{tmp}/none.tar.gz", "--pubkey", "{tmp}/none.jwk"),
    ("bundle", "sign", "{tmp}/bad.tar.gz", "--key", "{tmp}/bad.jwk", "-o", "{tmp}/x.sig"),
    ("policy", "test", "{tmp}"),
    ("policy", "eval", "--bundle-dir", "{tmp}", "--input", "{tmp}/bad.jwk"),
    ("attest", "verify", "{tmp}/bad.jwk"),
    ("attest", "show", "{tmp}/bad.jwk"),
    ("token", "verify", "not.a.token", "--jwks", "{tmp}/bad.jwk"),
    ("authorize", "--key", "{tmp}/bad.jwk", "--url", "http://127.0.0.1:9", "signMessage", "w", "--payload", "{{}}"),
    ("approve", "--key", "{tmp}/bad.jwk", "--url", "http://127.0.0.1:9", "--", "-abc"),
    ("down", "--state-dir", "{tmp}/nothing"),
    ("keys", "fingerprint", "{tmp}/bad.jwk"),
]


@pytest.mark.parametrize("args", BAD_INVOCATIONS, ids=lambda a: " ".join(a[:2]))
def test_no_command_prints_a_traceback_on_bad_input(tmp_path, args):
    (tmp_path / "bad.jwk").write_text("{not json")
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b not a tarball")
    result = run(*(a.format(tmp=tmp_path) for a in args))
    assert "Traceback" not in result.output and "RayTaskError" not in result.output, result.output
    if args[0] != "down":  # `down` on nothing is not a failure
        assert result.exit_code != 0 and result.exception is None or isinstance(result.exception, SystemExit), result.output


def test_token_verify_says_what_the_gateway_answered():
    import httpx

    from accord.commands.token import _http_reason

    request = httpx.Request("GET", "http://gw/.well-known/jwks.json")
    answer = httpx.Response(503, json={"error": {"code": "not_ready", "message": "the deployment did not answer"}},
                            request=request)  # fmt: skip
    error = httpx.HTTPStatusError("503", request=request, response=answer)
    assert _http_reason(error) == "HTTP 503: the deployment did not answer"
    plain = httpx.HTTPStatusError("502", request=request, response=httpx.Response(502, text="bad gateway", request=request))
    assert _http_reason(plain) == "HTTP 502: bad gateway"
    assert _http_reason(httpx.ConnectError("refused")) == "ConnectError: refused"


@pytest.mark.parametrize("engines, expected", [("regorus,opa", "one engine per group member (3), got 2"),
                                               ("regorus,wasm,opa", "unknown engine(s) ['wasm']")])  # fmt: skip
def test_up_refuses_engines_it_cannot_run_before_starting_anything(tmp_path, bad_sources, engines, expected):
    sources, _ = bad_sources
    state = tmp_path / "state"
    result = run("up", "--state-dir", state, "--bundle", sources.bundle, "--signature", sources.signature,
                 "--pubkey", sources.public_key, "--engines", engines)  # fmt: skip
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output
    assert not state.exists()
