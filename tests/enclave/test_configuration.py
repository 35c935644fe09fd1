"""The measured enclave configuration: every field that changes a decision, a token or what
an enclave trusts is measured (changes PCR0), bounded by constants, and strictly parsed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accord.enclave.configuration import (
    MAX_CLOCK_SKEW,
    MAX_TOKEN_LIFETIME,
    EnclaveConfig,
    EvaluatorConfig,
    KmsKind,
    KmsSettings,
    Platform,
    Role,
)
from accord.enclave.platform.errors import EnclaveConfigError
from accord.enclave.platform.measurement import measure
from accord.enclave.platform.trust import AWS_NITRO_ROOT_G1_SHA256

PINS = ("a1" * 32,)
SIM_ROOT = "5e" * 32
BASE = EnclaveConfig(PINS, deployment="acme-prod", attestation_root=SIM_ROOT)
AWS = KmsSettings(KmsKind.AWS, region="eu-west-1", key_id="arn:aws:kms:eu-west-1:111122223333:key/abcd")

VARIANTS = {
    "deployment": replace(BASE, deployment="acme-staging"),
    "attestation_root": replace(BASE, attestation_root="6f" * 32),
    "allow_debug": replace(BASE, allow_debug=True),
    "groups": replace(BASE, groups=2),
    "group_size": replace(BASE, group_size=4),
    "bundle_key_fingerprints": replace(BASE, bundle_key_fingerprints=("b2" * 32,)),
    "platform": EnclaveConfig(PINS, deployment="acme-prod", platform=Platform.NITRO, kms=AWS),
}
EVALUATOR_VARIANTS = {
    "issuer": {"issuer": "other"}, "audience": {"audience": "other"}, "clock_skew": {"clock_skew": 31},
    "signature_skew": {"signature_skew": 29}, "max_token_lifetime": {"max_token_lifetime": 60},
    "approval_max_age": {"approval_max_age": 86400}, "engine": {"engine": "opa"},
    "engines": {"engines": ("regorus", "opa", "regorus")},
    "public_origins": {"public_origins": ("https://accord.example.com",)},
}  # fmt: skip


@pytest.mark.parametrize("field", sorted(VARIANTS))
def test_every_field_is_measured(field):
    assert measure(VARIANTS[field]).pcrs()[0] != measure(BASE).pcrs()[0]
    assert BASE.differences(VARIANTS[field])[0] in (field, "platform", "attestation_root", "kms")


@pytest.mark.parametrize("field", sorted(EVALUATOR_VARIANTS))
def test_every_evaluator_parameter_is_measured(field):
    other = replace(BASE, evaluator=EvaluatorConfig(**EVALUATOR_VARIANTS[field]))
    assert measure(other).pcrs()[0] != measure(BASE).pcrs()[0]
    assert BASE.differences(other) == ["evaluator"]


@pytest.mark.parametrize("values, match", [
    ({"clock_skew": MAX_CLOCK_SKEW + 1}, "clock_skew"), ({"clock_skew": 0}, "clock_skew"),
    ({"signature_skew": 10**6}, "signature_skew"), ({"max_token_lifetime": MAX_TOKEN_LIFETIME + 1}, "max_token_lifetime"),
    ({"approval_max_age": 365 * 86400}, "approval_max_age"), ({"issuer": ""}, "issuer"),
    ({"engine": "wasm"}, "engine"), ({"public_origins": ("https://a.example/path",)}, "origin"),
    ({"clock_skew": True}, "clock_skew"),
])  # fmt: skip
def test_evaluator_parameters_are_bounded_by_the_enclave(values, match):
    with pytest.raises(EnclaveConfigError, match=match):
        EvaluatorConfig(**values)


def test_nitro_trusts_only_the_aws_root_and_aws_kms():
    nitro = EnclaveConfig(PINS, platform=Platform.NITRO, kms=AWS)
    assert nitro.attestation_root == AWS_NITRO_ROOT_G1_SHA256
    with pytest.raises(EnclaveConfigError, match="only the AWS Nitro root"):
        EnclaveConfig(PINS, platform=Platform.NITRO, kms=AWS, attestation_root=SIM_ROOT)
    with pytest.raises(EnclaveConfigError, match="seals with AWS KMS"):
        EnclaveConfig(PINS, platform=Platform.NITRO)
    with pytest.raises(EnclaveConfigError, match="debug"):
        EnclaveConfig(PINS, platform=Platform.NITRO, kms=AWS, allow_debug=True)


def test_simulated_enclaves_cannot_claim_the_aws_root_or_kms():
    with pytest.raises(EnclaveConfigError, match="cannot chain to the AWS Nitro root"):
        EnclaveConfig(PINS, attestation_root=AWS_NITRO_ROOT_G1_SHA256)
    with pytest.raises(EnclaveConfigError, match="AWS KMS accepts only Nitro"):
        EnclaveConfig(PINS, kms=AWS)
    with pytest.raises(EnclaveConfigError, match="region and a key id"):
        KmsSettings(KmsKind.AWS, region="eu-west-1")


def test_membership_is_fixed_by_the_configuration():
    config = replace(BASE, groups=2)
    assert config.keyshare_ids(1) == ("g1-e0-keyshare", "g1-e1-keyshare", "g1-e2-keyshare")
    assert config.member("g1-e2-evaluator").role is Role.EVALUATOR
    assert config.threshold == config.group_size == 3
    for stranger in ("g0-e3-evaluator", "g2-e0-keyshare", "evil-evaluator", "g0-e0"):
        with pytest.raises(EnclaveConfigError, match="not a member"):
            config.member(stranger)
    with pytest.raises(EnclaveConfigError, match="no signing group 2"):
        config.keyshare_ids(2)


def test_configuration_round_trips_strictly():
    config = replace(BASE, evaluator=EvaluatorConfig(public_origins=("https://b.example", "https://a.example")))
    assert EnclaveConfig.from_dict(config.to_dict()) == config
    item = config.to_dict()
    with pytest.raises(EnclaveConfigError, match="exactly the fields"):
        EnclaveConfig.from_dict({**item, "extra": 1})
    with pytest.raises(EnclaveConfigError, match="threshold 2"):
        EnclaveConfig.from_dict({**item, "threshold": 2})
    with pytest.raises(EnclaveConfigError, match="version"):
        EnclaveConfig.from_dict({**item, "version": 1})


def test_the_bundle_threshold_is_measured_and_reachable():
    two = replace(BASE, bundle_key_fingerprints=PINS + ("b2" * 32,))
    quorum = replace(two, bundle_threshold=2)
    assert measure(quorum).pcrs()[0] != measure(two).pcrs()[0]
    assert two.differences(quorum) == ["bundle_threshold"]
    assert EnclaveConfig.from_dict(quorum.to_dict()) == quorum
    with pytest.raises(EnclaveConfigError, match="cannot be met by 2 pinned"):
        replace(two, bundle_threshold=3)
