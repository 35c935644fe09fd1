"""Accord: Rego authorization decisions that three attested enclaves must agree on, signed
3-of-3 with FROST threshold signatures (RFC 9591)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accord")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
