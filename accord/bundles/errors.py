"""Why a bundle was refused.

One class per failure, so a caller (and a test) can tell an unsigned bundle from a tampered
one, a rollback from an expired bundle. Messages name the file, key or field at fault; where
OPA has a message for the same failure, ours is the same text.
"""

from __future__ import annotations

from accord.errors import AccordError


class BundleError(AccordError):
    """Root of every bundle failure."""


# --- reading the bundle --------------------------------------------------------------------


class BundleLayoutError(BundleError):
    """The archive or directory is unsafe or malformed: path traversal, a link, an absurd
    size, a duplicate member, a file where Accord allows none."""


class DocumentError(BundleError):
    """A data file or the manifest does not parse (bad JSON/YAML, non-finite number...)."""


class DataConflictError(DocumentError):
    """Two data files write the same path of the data document."""


class ManifestError(BundleError):
    """The `.manifest` is missing, malformed, or violates its own roots."""


# --- signatures ----------------------------------------------------------------------------


class SignatureError(BundleError):
    """The bundle signature does not establish that the pinned key signed these files."""


class UnsignedBundleError(SignatureError):
    """No signature where one is required."""


class SignatureFormatError(SignatureError):
    """`.signatures.json` or its JWT is malformed (zero or several JWTs, bad encoding,
    payload of the wrong shape, unknown verifier plugin)."""


class KeyConfigError(SignatureError):
    """No usable verification key: none configured, unknown key id or algorithm, key that
    does not parse."""


class AlgorithmMismatchError(SignatureError):
    """The token asks for an algorithm other than the configured key's (including `none`,
    and HMAC against a public key: algorithm confusion)."""


class BadSignatureError(SignatureError):
    """The JWS signature does not verify under the configured key."""


class ScopeMismatchError(SignatureError):
    """The token's scope is not the configured scope."""


class UnpinnedKeyError(SignatureError):
    """The verifying key's fingerprint is not in the pinned set (refused even when the
    signature verifies)."""


# --- file listing --------------------------------------------------------------------------


class InsufficientSignaturesError(SignatureError):
    """Fewer distinct pinned administrators signed the bundle validly than the measured
    threshold requires (the message names who did, and why the other signatures fail)."""


class FileListingError(SignatureError):
    """The files present and the files signed do not match one to one."""


class FileNotSignedError(FileListingError):
    """A file in the bundle is not listed in the signature."""


class SignedFileMissingError(FileListingError):
    """A file listed in the signature is not in the bundle."""


class HashAlgorithmError(FileListingError):
    """A listed file names no hash algorithm, an unknown one, or (strict mode) a weak one."""


class DigestMismatchError(FileListingError):
    """A file's content does not hash to the signed value."""


# --- freshness -----------------------------------------------------------------------------


class FreshnessError(BundleError):
    """A correctly signed bundle that must not be activated now."""


class RollbackError(FreshnessError):
    """The bundle's version is not above the active (or persisted) version."""


class ExpiredBundleError(FreshnessError):
    """The bundle's expiry has passed."""


# --- keys and sources ----------------------------------------------------------------------


class KeyFileError(BundleError):
    """An administrator key file is malformed, of an unsupported type, or the wrong half
    (a private key where a public one belongs, or the reverse)."""


class SourceError(BundleError):
    """A bundle, signature or key could not be fetched from its configured source."""


class HighWaterMarkError(BundleError):
    """The persisted highest-activated version cannot be read or written."""
