"""`accord attest verify|show` through click's CliRunner."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import Encoding
from nitro_vectors import CONFIG, NITRO, NOW, REAL_DOCUMENTS, clock_at

from accord.cli import main
from accord.enclave.platform.measurement import measure
from accord.enclave.platform.simulated_nsm import SimulatedNsm
from accord.enclave.platform.timeutil import from_millis

REAL = {d.name: d for d in REAL_DOCUMENTS}


def run(*args, input=None):
    return CliRunner().invoke(main, ["attest", *map(str, args)], input=input)


def test_listed_in_help():
    assert "attest" in CliRunner().invoke(main, ["--help"]).output


@pytest.mark.parametrize("doc", REAL_DOCUMENTS, ids=lambda d: d.name)
def test_real_documents_verify_at_their_time(doc):
    args = ["verify", NITRO / doc.path, "--at", doc.timestamp, "--json"]
    if doc.encoding == "pem-san":  # the CLI reads raw CBOR or base64; hand it the extracted bytes
        args = ["verify", "-", "--at", doc.timestamp, "--json"]
    result = run(*args, *(["--allow-debug"] if doc.debug else []), input=doc.load() if doc.encoding == "pem-san" else None)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["valid"] and report["module_id"] == doc.module_id and report["debug"] is doc.debug


def test_rfc3339_time_and_text_output():
    doc = REAL["marlin-aws"]
    at = from_millis(doc.timestamp).isoformat().replace("+00:00", "Z")
    result = run("verify", NITRO / doc.path, "--at", at)
    assert result.exit_code == 0 and result.output.startswith(f"VALID: {doc.module_id}")
    assert "note" not in result.output  # the default root is AWS's


def test_base64_document_on_stdin():
    doc = REAL["marlin-aws"]
    result = run("verify", "-", "--at", doc.timestamp, input=base64.b64encode(doc.load()))
    assert result.exit_code == 0, result.output


def test_expired_today_exits_1():
    result = run("verify", NITRO / REAL["marlin-aws"].path, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "CertificateExpiredError"


def test_debug_document_needs_allow_debug():
    doc = REAL["evervault-debug"]
    result = run("verify", NITRO / doc.path, "--at", doc.timestamp)
    assert result.exit_code == 1 and "DebugModeError" in result.output


def test_expect_pcr():
    doc = REAL["marlin-aws"]
    pcr0 = "189038eccf28a3a098949e402f3b3d86a876f4915c5b02d546abb5d8c507ceb1755b8192d8cfca66e8f226160ca4c7a6"
    assert run("verify", NITRO / doc.path, "--at", doc.timestamp, "--expect-pcr", f"0={pcr0}").exit_code == 0
    result = run("verify", NITRO / doc.path, "--at", doc.timestamp, "--expect-pcr", "0=" + "00" * 48)
    assert result.exit_code == 1 and "PcrMismatchError" in result.output


def test_other_root_exits_1():
    doc = REAL["marlin-aws"]
    result = run("verify", NITRO / doc.path, "--at", doc.timestamp, "--root", NITRO / "marlin-mock" / "root.crt")
    assert result.exit_code == 1 and "UntrustedRootError" in result.output


def test_marlin_mock_with_its_root_notes_the_foreign_anchor():
    result = run("verify", NITRO / "marlin-mock" / "custom.bin", "--at", 1734080745008,
                 "--root", NITRO / "marlin-mock" / "root.crt", "--allow-debug")  # fmt: skip
    assert result.exit_code == 0 and "NOT the AWS Nitro Enclaves root" in result.output


def test_simulated_document_with_pem_root(pki, tmp_path):
    nsm = SimulatedNsm(pki=pki, measurement=measure(CONFIG), instance_id="i-cli", clock=clock_at())
    (tmp_path / "doc.b64").write_bytes(base64.b64encode(nsm.attestation()))
    (tmp_path / "root.pem").write_bytes(pki.root.certificate.public_bytes(Encoding.PEM))
    result = run("verify", tmp_path / "doc.b64", "--root", tmp_path / "root.pem", "--at", NOW.isoformat())
    assert result.exit_code == 0, result.output
    assert "SIMULATED" in result.output
    assert run("verify", tmp_path / "doc.b64", "--at", NOW.isoformat()).exit_code == 1  # not under AWS


@pytest.mark.parametrize("content", [b"", b"!!not base64!!", b"\x84\x00"])
def test_garbage_exits_1(tmp_path, content):
    (tmp_path / "doc").write_bytes(content)
    result = run("verify", tmp_path / "doc")
    assert result.exit_code == 1 and "INVALID (MalformedAttestationError)" in result.output


@pytest.mark.parametrize("args", [["--at", "yesterday"], ["--at", "2024-01-01T00:00:00"], ["--expect-pcr", "zero"], ["--expect-pcr", "0=zz"]])
def test_bad_usage_exits_2(args):
    assert run("verify", NITRO / REAL["marlin-aws"].path, *args).exit_code == 2


def test_show_prints_fields_without_verifying():
    result = run("show", NITRO / REAL["tkhq-qos"].path)
    assert result.exit_code == 0
    assert "NOT verified" in result.stderr
    fields = json.loads(result.stdout)
    assert fields["module_id"] == REAL["tkhq-qos"].module_id and fields["timestamp"] == REAL["tkhq-qos"].timestamp
    assert fields["cabundle"][0]["subject"] == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"


def test_show_garbage_exits_1(tmp_path):
    (tmp_path / "doc").write_bytes(b"\x84\x01")
    assert run("show", tmp_path / "doc").exit_code == 1
