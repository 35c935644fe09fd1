"""Deterministic input and data preparation: what Rego sees is decided here, in Python.

Three evaluators (possibly on different engines) must reach byte-identical decisions, so
nothing that engines could read differently reaches Rego:

- Numbers: only integers in the safe range +-(2^53 - 1). Floats are refused (OPA computes
  with arbitrary precision, regorus with f64) and so are larger integers.
- Amounts (token quantities in base units, e.g. wei, up to 2^256 - 1) are *amount strings*:
  exactly 78 decimal digits, zero-padded. Equal width makes string order numeric order, so
  Rego compares them with `<`/`>` and never does arithmetic on them. In data and input,
  every object member named `amount` or ending in `_amount` is an amount: written as a
  decimal string or safe integer, rewritten here to the padded form.
- Sums: the transfer history is totalled here, exactly, per window and holder
  (`input.spent`, from a `spending.SpendingLedger`); Rego only compares the totals with limits.
- Time: the request time in whole seconds (`input.time.seconds`). Decision policies may not
  call `time.now_ns` (engine.py refuses them), so no policy can read the clock.
- JSON: the prepared input is canonical JSON (RFC 8785), approvals sorted, so every
  evaluator feeds the engine the same bytes.

The input schema is documented in accord/policies/README.md; this module enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import attrgetter
from dataclasses import dataclass
from typing import Any

from accord.bundles.policy_errors import DataError, InputError
from accord.bundles.spending import SpendingLedger, Transfer
from accord.protocols import canonical_json

AMOUNT_DIGITS = 78  # 2^256 - 1 has 78 decimal digits
MAX_AMOUNT = 2**256 - 1
MAX_SAFE_INTEGER = 2**53 - 1
MAX_TIME_SECONDS = 253402300799  # 9999-12-31T23:59:59Z

# Intents that move value: input.spent (what limits read) is given for these only.
SPENDING_INTENTS = frozenset({"transferNative", "transferErc20", "contractCall"})

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_DECIMAL = re.compile(r"[0-9]{1,78}")
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url SHA-256, RFC 7638
_SHA256_B64URL = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url SHA-256, as in tokens
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}")

_ERC20_TRANSFER = "0xa9059cbb"
_ERC20_APPROVE = "0x095ea7b3"


def amount(value: Any, what: str = "amount", error: type[Exception] = InputError) -> str:
    """The amount string of `value`: a non-negative integer (int, decimal string, or
    0x-prefixed hex string) below 2^256, as exactly 78 zero-padded decimal digits."""
    if type(value) is int:
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value, 10)
    elif isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{1,64}", value):
        number = int(value, 16)
    else:
        raise error(f"{what} must be a non-negative integer or its decimal/0x-hex string, got {value!r}")
    if not 0 <= number <= MAX_AMOUNT:
        raise error(f"{what} {number} is outside 0 .. 2^256-1")
    return str(number).zfill(AMOUNT_DIGITS)


def _is_amount_key(key: str) -> bool:
    return key == "amount" or key.endswith("_amount")


class _Refused(Exception):
    """Internal: `_fast_normalize` met something to refuse; `_normalize` then finds where."""


def _fast_normalize(value: Any) -> Any:
    # The common case, kept tight: data documents are large (about 120k values per MB).
    # A dict or list with nothing to change is returned as is (no copy: a third faster on
    # a bundle's data, and half the memory); anything else is rebuilt as dict and list.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _Refused
    if kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping)):
        out = None if kind is dict else {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Refused
            if key == "amount" or key.endswith("_amount"):
                try:
                    new = amount(item)
                except InputError:
                    raise _Refused from None
            else:
                new = _fast_normalize(item)
            if out is not None:
                out[key] = new
            elif new is not item:
                out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list:
        out = None
        for i, item in enumerate(value):
            new = _fast_normalize(item)
            if new is not item:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out
    if kind is tuple:
        return [_fast_normalize(item) for item in value]
    raise _Refused


def _explain(value: Any, where: str, error: type[Exception]) -> None:
    """Raise `error` naming the first value `_fast_normalize` refuses, with its path."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(f"{where}: object key {key!r} is not a string")
            if _is_amount_key(key):
                amount(item, f"{where}.{key}", error)
            else:
                _explain(item, f"{where}.{key}", error)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _explain(item, f"{where}[{i}]", error)
    elif type(value) is int:
        if abs(value) > MAX_SAFE_INTEGER:
            raise error(f"{where}: integer {value} is beyond 2^53; write it as a string (amounts: *_amount)")
    elif not (value is None or isinstance(value, (str, bool))):
        raise error(f"{where}: {type(value).__name__} values are not allowed (only integers, strings, booleans, null, arrays, objects)")


def _normalize(value: Any, where: str, error: type[Exception]) -> Any:
    """A JSON value as engines load it, refusing what they disagree on and padding amount
    members; it shares the parts it leaves unchanged with `value`."""
    try:
        return _fast_normalize(value)
    except _Refused:
        _explain(value, where, error)
        raise AssertionError("_explain found nothing to refuse") from None


def prepare_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data document as engines load it: numbers checked, amount members padded
    (unchanged parts are shared with `data`, which callers do not mutate). Raises
    DataError naming the first offending path."""
    if not isinstance(data, Mapping):
        raise DataError(f"data must be an object, got {type(data).__name__}")
    return _normalize(dict(data), "data", DataError)


@dataclass(frozen=True)
class PreparedInput:
    """A request prepared for evaluation: canonical JSON bytes plus the request time, and
    the transfer it makes if it is a value-moving transaction (what an evaluator records in
    its spending ledger when it permits the request)."""

    json: bytes
    time_seconds: int
    transfer: Transfer | None = None

    def document(self) -> Any:
        """A fresh parsed copy of the input document."""
        return canonical_json.loads(self.json)


def _require(doc: Mapping[str, Any], keys: set[str], optional: set[str], where: str) -> None:
    if not isinstance(doc, Mapping):
        raise InputError(f"{where} must be an object, got {type(doc).__name__}")
    missing, extra = keys - set(doc), set(doc) - keys - optional
    if missing:
        raise InputError(f"{where} is missing {sorted(missing)}")
    if extra:
        raise InputError(f"{where} has unknown members {sorted(extra)}")


def _matching(value: Any, pattern: re.Pattern[str], what: str, expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InputError(f"{what} must be {expected}, got {value!r}")
    return value


def _identifier(value: Any, what: str) -> str:
    return _matching(value, _ID, what, "an identifier ([A-Za-z0-9._:@/+-], 1-128 chars)")


def _address(value: Any, what: str) -> str:
    return _matching(value, _ADDRESS, what, "a 0x-prefixed 20-byte hex address").lower()


def _hex(value: Any, what: str) -> str:
    return _matching(value, _HEX, what, "0x-prefixed hex bytes").lower()


def _safe_int(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= MAX_SAFE_INTEGER:
        raise InputError(f"{what} must be an integer in {minimum} .. 2^53-1, got {value!r}")
    return value


def request_time(seconds: Any) -> dict[str, int]:
    """`input.time`: the request time in UTC epoch seconds."""
    seconds = _safe_int(seconds, "time")
    if seconds > MAX_TIME_SECONDS:
        raise InputError(f"time {seconds} is after {MAX_TIME_SECONDS}")
    return {"seconds": seconds}


def spent(totals: Mapping[str, Mapping[str, tuple[int, int, int]]]) -> dict[str, Any]:
    """`input.spent` from `SpendingLedger.totals`: amounts as amount strings. Raises
    InputError if a total exceeds 2^256 - 1 (the first in window, then holder order)."""
    out: dict[str, Any] = {}
    for window, by_holder in totals.items():
        out[window] = {}
        for holder, (total, count, all_count) in by_holder.items():
            if total > MAX_AMOUNT:
                raise InputError(f"{window} total of {holder} exceeds 2^256-1")
            out[window][holder] = {"amount": str(total).zfill(AMOUNT_DIGITS), "count": count, "all_count": all_count}
    return out


def transaction_intent(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Decode what a (normalized) transaction does: native transfer, ERC-20 transfer or
    approve, or another contract call. Token ids are `eip155:<chain>/native` and
    `eip155:<chain>/erc20:<contract>`."""
    chain, to, data, value = payload["chain_id"], payload["to"], payload["data"], payload["value"]
    native = f"eip155:{chain}/native"
    if data == "0x":
        return {"type": "transferNative", "token": native, "amount": value, "destination": to}
    selector = data[:10]
    if selector in (_ERC20_TRANSFER, _ERC20_APPROVE) and int(value) == 0:
        if len(data) != 10 + 128:
            raise InputError(f"ERC-20 call {selector} must carry exactly two 32-byte arguments")
        word, quantity = data[10:74], data[74:138]
        if word[:24] != "0" * 24:
            raise InputError("ERC-20 address argument has non-zero high bytes")
        return {
            "type": "transferErc20" if selector == _ERC20_TRANSFER else "approveErc20",
            "token": f"eip155:{chain}/erc20:{to}",
            "amount": amount("0x" + quantity, "ERC-20 amount"),
            "destination": "0x" + word[24:],
        }
    return {"type": "contractCall", "token": native, "amount": value, "destination": to, "selector": selector}


def _transaction(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require(payload, {"chain_id", "to"}, {"value", "data", "nonce", "gas_limit", "max_fee_per_gas", "max_priority_fee_per_gas"}, "payload")
    out: dict[str, Any] = {
        "chain_id": _safe_int(payload["chain_id"], "payload.chain_id", 1),
        "to": _address(payload["to"], "payload.to"),
        "value": amount(payload.get("value", 0), "payload.value"),
        "data": _hex(payload.get("data", "0x"), "payload.data"),
    }
    for name in ("nonce", "gas_limit"):
        if name in payload:
            out[name] = _safe_int(payload[name], f"payload.{name}")
    for name in ("max_fee_per_gas", "max_priority_fee_per_gas"):
        if name in payload:
            out[name] = amount(payload[name], f"payload.{name}")
    return out


def _typed_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require(payload, {"typed_data"}, set(), "payload")
    typed = payload["typed_data"]
    _require(typed, {"types", "primaryType", "domain", "message"}, set(), "payload.typed_data")
    typed = _normalize(dict(typed), "payload.typed_data", InputError)
    domain = typed["domain"]
    if not isinstance(domain, dict):
        raise InputError("payload.typed_data.domain must be an object")
    if "verifyingContract" in domain:
        domain["verifyingContract"] = _address(domain["verifyingContract"], "payload.typed_data.domain.verifyingContract")
    return {"typed_data": typed}


def _message(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require(payload, {"message"}, set(), "payload")
    if not isinstance(payload["message"], str):
        raise InputError("payload.message must be a string")
    return {"message": payload["message"]}


def _raw(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require(payload, {"raw"}, set(), "payload")
    return {"raw": _hex(payload["raw"], "payload.raw")}


def _grant(payload: Mapping[str, Any]) -> dict[str, Any]:
    _require(payload, {"permissions"}, set(), "payload")
    perms = payload["permissions"]
    if not isinstance(perms, (list, tuple)) or not perms:
        raise InputError("payload.permissions must be a non-empty array")
    return {"permissions": sorted({_identifier(p, "payload.permissions[]") for p in perms})}


_PAYLOADS = {
    "signTransaction": _transaction,
    "signMessage": _message,
    "signTypedData": _typed_data,
    "signRaw": _raw,
    "grantPermission": _grant,
}
ACTIONS = tuple(_PAYLOADS)


def moves_value(action: Any, payload: Any) -> bool:
    """Whether a request of `action` with `payload` is a transfer whose decision reads the
    spending ledger (`input.spent`). A `signTransaction` whose payload does not parse counts
    as one: it is then decided (refused) where the ledger is."""
    if action != "signTransaction":
        return False
    try:
        return transaction_intent(_transaction(payload))["type"] in SPENDING_INTENTS
    except (InputError, TypeError, KeyError, AttributeError):
        return True


def _history_entry(entry: Mapping[str, Any], where: str) -> Transfer:
    _require(entry, {"time", "principal", "account", "token", "amount", "destination"}, set(), where)
    return Transfer(
        time=_safe_int(entry["time"], f"{where}.time"),
        principal=_identifier(entry["principal"], f"{where}.principal"),
        account=_identifier(entry["account"], f"{where}.account"),
        token=_identifier(entry["token"], f"{where}.token"),
        amount=int(amount(entry["amount"], f"{where}.amount")),
        destination=_address(entry["destination"], f"{where}.destination"),
    )


def history_ledger(history: Any) -> SpendingLedger:
    """A ledger of a history given as JSON (an array of transfers, validated here; see
    accord/policies/README.md). Raises InputError naming the first bad entry."""
    if not isinstance(history, (list, tuple)):
        raise InputError("history must be an array of transfers")
    ledger = SpendingLedger(retention=None)  # keep all: the request time may be any time
    for transfer in sorted((_history_entry(e, f"history[{i}]") for i, e in enumerate(history)), key=attrgetter("time")):
        ledger.record(transfer)
    return ledger


def _approvals(approvals: Any) -> list[str]:
    if not isinstance(approvals, (list, tuple)):
        raise InputError("approvals must be an array of principal ids")
    return sorted({_identifier(a, "approvals[]") for a in approvals})


INPUT_KEYS = {"request", "principal", "key", "time", "request_hash"}
OPTIONAL_INPUT_KEYS = {"approvals", "history"}


def prepare_input(raw: Mapping[str, Any]) -> PreparedInput:
    """Validate an evaluator request and build the input document Rego sees.

    `raw` has `request` ({action, resource, payload}), `principal` (id resolved from the
    verified key), `key` (its RFC 7638 thumbprint), `time` (request time, integer seconds),
    `request_hash` (base64url SHA-256, 43 characters), and optionally `approvals` (verified approver
    principal ids) and `history`: past transfers, as a JSON array (validated here) or as the
    evaluator's own `SpendingLedger` (trusted: it holds only transfers of inputs prepared
    here). Raises InputError naming the first problem; the evaluator answers such a request
    with a forbid.
    """
    _require(raw, INPUT_KEYS, OPTIONAL_INPUT_KEYS, "input")
    request = raw["request"]
    _require(request, {"action", "resource", "payload"}, set(), "request")
    action = request["action"]
    if type(action) is not str or action not in _PAYLOADS:
        raise InputError(f"request.action must be one of {', '.join(ACTIONS)}, got {action!r}")
    payload = _PAYLOADS[action](request["payload"])
    key = _matching(raw["key"], _JKT, "key", "an RFC 7638 SHA-256 thumbprint (43 base64url chars)")
    request_hash = _matching(raw["request_hash"], _SHA256_B64URL, "request_hash", "a base64url SHA-256 (43 chars)")
    history = raw.get("history", ())
    ledger = history if isinstance(history, SpendingLedger) else history_ledger(history)
    principal = _identifier(raw["principal"], "principal")
    resource = _identifier(request["resource"], "request.resource")
    time = request_time(raw["time"])
    document: dict[str, Any] = {
        "request": {"action": action, "resource": resource, "payload": payload},
        "principal": principal,
        "key": key,
        "approvals": _approvals(raw.get("approvals", ())),
        "time": time,
        "request_hash": request_hash,
    }
    transfer = None
    if action == "signTransaction":
        intent = document["intent"] = transaction_intent(payload)
        if intent["type"] in SPENDING_INTENTS:
            transfer = Transfer(time["seconds"], principal, resource, intent["token"], int(intent["amount"]),
                                intent["destination"])  # fmt: skip
            totals = ledger.totals(transfer.time, principal, resource, transfer.token, transfer.amount)
            document["spent"] = spent(totals)
    return PreparedInput(canonical_json.dumps(document), time["seconds"], transfer)
