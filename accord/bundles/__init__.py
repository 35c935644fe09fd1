"""Signed policy bundles (OPA format) and the Rego engine adapters."""
