"""Real OPA, in-process (optional extra `opa-golib-python-bindings`, module `opa_bindings`).

The reference engine for differential and conformance tests. The package is imported on
first use; without it, constructing an `OpaEngine` raises EngineUnavailableError saying how
to install it. Thread rule: one native engine, shared; the bindings serialize evaluations
with a lock, so any thread may call it. The bindings parse Rego v1 only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from accord.bundles.engine import UNDEFINED, PolicyEngine, clean_message
from accord.bundles.policy_errors import EngineEvalError, EngineUnavailableError, PolicyLoadError
from accord.protocols import canonical_json

INSTALL_HINT = (
    "the OPA engine needs the optional package opa-golib-python-bindings: run `make opa` "
    "(pip install --ignore-requires-python -r requirements-opa.lock; x86_64 only)"
)


def _bindings() -> Any:
    try:
        import opa_bindings
    except ImportError as exc:
        raise EngineUnavailableError(f"{INSTALL_HINT} ({exc})") from None
    return opa_bindings


def opa_available() -> bool:
    """Whether the optional OPA bindings can be imported."""
    try:
        _bindings()
    except EngineUnavailableError:
        return False
    return True


class OpaEngine(PolicyEngine):
    """OPA behind the `PolicyEngine` interface."""

    name = "opa"

    def __init__(
        self,
        modules: Mapping[str, str],
        data: Mapping[str, Any] | None = None,
        *,
        rego_v0: bool = False,
        entry_points: Sequence[str] = (),  # OPA prepares queries itself; nothing to compile
    ) -> None:
        bindings = _bindings()
        if rego_v0:
            raise PolicyLoadError("the OPA bindings parse Rego v1 only; Rego v0 modules cannot be loaded")
        if data is not None and not isinstance(data, Mapping):
            raise PolicyLoadError(f"data must be an object, got {type(data).__name__}")
        self._errors = bindings.OpaError
        self._undefined = bindings.OpaUndefinedError
        self._engine = bindings.OpaEngine()
        for path, source in sorted(modules.items()):
            try:
                self._engine.add_policy(path, source)
            except self._errors as exc:
                raise PolicyLoadError(f"{path}: {clean_message(str(exc))}") from None
        try:
            self._engine.add_data(dict(data or {}))
        except self._errors as exc:
            raise PolicyLoadError(f"data: {clean_message(str(exc))}") from None
        try:  # OPA compiles lazily; compile now so a bad module fails the load, not a decision
            self._engine.eval_query("true")
        except self._errors as exc:
            raise PolicyLoadError(clean_message(str(exc))) from None

    def _add_data(self, document: Mapping[str, Any]) -> None:
        try:
            self._engine.add_data(dict(document))
        except self._errors as exc:
            raise PolicyLoadError(f"data: {clean_message(str(exc))}") from None

    @staticmethod
    def _input(input_json: bytes | None) -> Any:
        return None if input_json is None else canonical_json.loads(input_json)

    def document(self, path: str, input_json: bytes | None = None) -> Any:
        if path != "data" and not path.startswith("data."):
            raise EngineEvalError(f"document path must start with data., got {path!r}")
        try:
            return self._engine.eval_document(path[5:], self._input(input_json))
        except self._undefined:
            return UNDEFINED
        except self._errors as exc:
            raise EngineEvalError(clean_message(str(exc))) from None

    def query(self, query: str, input_json: bytes | None = None) -> list[dict[str, Any]]:
        try:
            return self._engine.eval_query(query, self._input(input_json))
        except self._errors as exc:
            raise EngineEvalError(clean_message(str(exc))) from None
