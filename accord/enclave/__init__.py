"""Enclave primitives: NSM, attestation documents, KMS, sealed storage, secure channels."""
