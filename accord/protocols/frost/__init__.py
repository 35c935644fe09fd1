"""FROST(Ed25519, SHA-512), RFC 9591, with the Pedersen DKG of ZcashFoundation frost.

Modules follow the RFC and frost-core: `ciphersuite` (group, scalars, hashes), `identifier`,
`keys`, `round1` (nonces, commitments), `signing_package`, `binding` (binding factors, group
commitment, challenge), `round2` (signature shares), `aggregate`, `dkg`, `refresh`; and
Accord's own `participant_signature` (what a participant signs with its share outside FROST
signing: its commitment batches).
"""
