"""What runs inside an enclave, in two layers.

- `platform/`: the Nitro platform, real or simulated: NSM (`/dev/nsm` or the simulator),
  attestation documents (COSE_Sign1, certificate chains, trust roots, the simulated PKI),
  KMS (simulated, AWS) with CiphertextForRecipient, sealed storage, enclave identity and
  secure channels, code measurement. Nothing in it knows about policies or FROST.
- the enclave applications, here: the measured configuration (`configuration`), the
  KeyShare (`keyshare`, its DKG over attested channels `dkg_transport`, the group key it
  vouches for `group_key`) and the policy evaluator (`evaluator`), linked by `signing_link`.
"""
