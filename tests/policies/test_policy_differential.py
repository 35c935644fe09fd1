"""Differential test: regorus (interpreter and compiled RVM) and OPA must reach
byte-identical decisions (reasons and approvals included) on generated requests over the
shipped library and example data."""

from __future__ import annotations

import base64
import collections
import random
from typing import Any

import pytest
from conftest import MONDAY_10AM, OPA_MISSING, erc20_transfer

from accord.bundles.decision import Decision
from accord.bundles.engine import engine_class
from accord.bundles.inputs import prepare_input
from accord.bundles.opa_engine import opa_available
from accord.bundles.policy_errors import InputError

CASES = 1200
SEED = 20260105
PERMIT2 = "0x000000000022d473030f116ddee9f6b43ac78ba3"


def _address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def _amount(rng: random.Random, caps: list[int]) -> int:
    """Around the library's caps (to hit the boundaries), or any magnitude up to 10^30."""
    if rng.random() < 0.3:
        return max(0, rng.choice(caps) + rng.choice((-1, 0, 1)))
    return rng.randrange(10 ** rng.choice((1, 6, 9, 11, 12, 16, 19, 21, 30)))


class Generator:
    """Seeded random evaluator requests over a data document."""

    def __init__(self, data: dict[str, Any], seed: int) -> None:
        self.rng = random.Random(seed)
        self.data = data
        self.principals = sorted(data["principals"])
        self.accounts = sorted(data["accounts"])
        self.tokens = sorted(data["tokens"])
        self.caps = sorted({int(v) for r in data["rules"].values() for k, v in r.items() if k.endswith("_amount")}
                           | {int(l["max_amount"]) for l in data["limits"].values() if "max_amount" in l})

    def pick(self, items: list[Any], stranger: Any, p_stranger: float = 0.05) -> Any:
        return stranger if self.rng.random() < p_stranger else self.rng.choice(items)

    def key_of(self, principal: str) -> str:
        owner = principal if self.rng.random() > 0.05 else self.rng.choice(self.principals)
        keys = self.data["principals"].get(owner, {}).get("keys", {"B" * 43: {}})
        return next(iter(keys))

    def transaction(self, account: str) -> dict[str, Any]:
        rng = self.rng
        chain = self.data["accounts"].get(account, {"chain_id": 1})["chain_id"]
        if rng.random() < 0.05:
            chain = rng.choice((1, 8453, 10))
        token = self.pick([t for t in self.tokens if t.startswith(f"eip155:{chain}/")] or self.tokens,
                          f"eip155:{chain}/erc20:{_address(rng)}")
        book = [k.split(":")[2] for k in self.data["address_book"] if k.startswith(f"eip155:{chain}:")]
        destination = self.pick(book or [_address(rng)], _address(rng), 0.15)
        units = _amount(rng, self.caps)
        kind = rng.random()
        if token.endswith("/native") or kind < 0.05:
            data = "0x" if kind > 0.1 else "0x" + rng.randbytes(rng.choice((4, 36))).hex()
            return {"chain_id": chain, "to": destination, "value": units, "data": data}
        contract = token.rsplit(":", 1)[1] if "/erc20:" in token else _address(rng)
        calldata = erc20_transfer(destination, units)
        if kind < 0.12:
            calldata = "0x095ea7b3" + calldata[10:]  # approve
        return {"chain_id": chain, "to": contract, "value": 0, "data": calldata}

    def payload(self, action: str, resource: str) -> dict[str, Any]:
        rng = self.rng
        if action == "signTransaction":
            return self.transaction(resource)
        if action == "signMessage":
            return {"message": f"login nonce {rng.randrange(10**6)}"}
        if action == "signTypedData":
            domain = {"name": "Permit2", "chainId": 1, "verifyingContract": self.pick([PERMIT2], _address(rng), 0.3)}
            return {"typed_data": {"types": {}, "primaryType": rng.choice(("PermitSingle", "PermitBatch")),
                                   "domain": domain, "message": {"amount": str(rng.randrange(10**20))}}}
        if action == "signRaw":
            return {"raw": "0x" + rng.randbytes(32).hex()}
        perms = ["wallet:create", "wallet:import", "wallet:read", "policy:read", "policy:write"]
        return {"permissions": rng.sample(perms, rng.randint(1, 3))}

    def history(self, now: int) -> list[dict[str, Any]]:
        rng = self.rng
        return [
            {
                "time": now - rng.randrange(-3600, 40 * 86400),
                "principal": rng.choice(self.principals),
                "account": rng.choice(self.accounts),
                "token": rng.choice(self.tokens),
                "amount": _amount(rng, self.caps),
                "destination": _address(rng),
            }
            for _ in range(rng.choice((0, 0, 1, 3, 8, 20)))
        ]

    def aimed(self) -> tuple[str, str, str]:
        """(principal, action, resource) that some rule of the data names, to reach rules."""
        rule = self.rng.choice(sorted(self.data["rules"].values(), key=repr))
        principals = [p for p, record in self.data["principals"].items()
                      if p in rule.get("principals", [p])
                      and set(record["roles"]) & set(rule.get("roles", record["roles"]))
                      and (set(record["groups"]) & set(rule.get("groups", record["groups"])) or "groups" not in rule)]
        action = self.rng.choice(rule["actions"])
        resources = self.principals if action == "grantPermission" else rule.get("accounts") or self.accounts
        return self.rng.choice(principals or self.principals), action, self.rng.choice(resources)

    def request(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.6:
            principal, action, resource = self.aimed()
        else:
            principal = self.pick(self.principals, "mallory")
            action = rng.choices(["signTransaction", "signMessage", "signTypedData", "signRaw", "grantPermission"],
                                 [70, 8, 8, 4, 10])[0]
            if action == "grantPermission":
                resource = self.pick(self.principals, "mallory", 0.1)
            else:
                resource = self.pick(self.accounts, "vault-9", 0.03)
        now = MONDAY_10AM + rng.randrange(14 * 86400)
        return {
            "request": {"action": action, "resource": resource, "payload": self.payload(action, resource)},
            "principal": principal,
            "key": self.key_of(principal),
            "time": now,
            "request_hash": base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode(),
            "approvals": rng.sample(self.principals + ["mallory"], rng.choice((0, 0, 1, 2, 3))),
            "history": self.history(now),
        }


def assert_engines_agree(library, names: tuple[str, ...]) -> None:
    engines = [engine_class(name).load(*library) for name in names]
    generator = Generator(library[1], SEED)
    verdicts: collections.Counter[str] = collections.Counter()
    compared = 0
    while compared < CASES:
        try:
            prepared = prepare_input(generator.request())
        except InputError:
            continue  # e.g. a total beyond 2^256: refused before any engine sees it
        ours, *theirs = (engine.decide(prepared) for engine in engines)
        for other in theirs:
            assert ours.to_json() == other.to_json(), prepared.json.decode()
        verdicts[ours.decision.value] += 1
        compared += 1
    print(f"\n{compared} decisions, identical on {', '.join(names)}: {dict(verdicts)}")
    assert all(verdicts[v] >= 20 for v in ("permit", "forbid", "confirm")), verdicts


@pytest.mark.opa
@pytest.mark.skipif(not opa_available(), reason=OPA_MISSING)
def test_regorus_and_opa_agree(library):
    assert_engines_agree(library, ("regorus", "opa", "regorus-rvm"))


def test_regorus_interpreter_and_rvm_agree(library):
    """Where the compiled evaluator may be used (beside another engine): the library is
    written so that it decides every generated request as the interpreter does."""
    assert_engines_agree(library, ("regorus", "regorus-rvm"))


def _more_rules(data: dict[str, Any]) -> dict[str, Any]:
    """The example data with rules and limits that stress the indexes: several actions,
    several accounts, an empty accounts list (matches nothing), accounts of another chain."""
    accounts = sorted(data["accounts"])
    rules = {
        "two-actions": {"effect": "permit", "actions": ["signMessage", "signTypedData"], "accounts": accounts[:2]},
        "nowhere": {"effect": "forbid", "actions": ["signTransaction", "signMessage"], "accounts": []},
        "everywhere-messages": {"effect": "forbid", "actions": ["signMessage"], "principals": ["carol"]},
        "last-accounts": {"effect": "permit", "actions": ["signTransaction"], "accounts": accounts[-2:],
                          "intents": ["transferNative"], "max_amount": "1000000000000000000"},
    }
    limits = {
        "first-accounts": {"kind": "rate", "max_count": 3, "window": "rolling_1h", "per": "account",
                           "accounts": accounts[:3]},
        "no-account": {"kind": "spending", "token": data["limits"]["ops-usdc-daily"]["token"],
                       "max_amount": "1000000000", "window": "hour", "per": "all"},
        "nowhere": {"kind": "rate", "max_count": 1, "window": "day", "per": "all", "accounts": []},
    }
    return {**data, "rules": {**data["rules"], **rules}, "limits": {**data["limits"], **limits}}


@pytest.mark.parametrize("engine_name", ["regorus", "regorus-rvm",
                                         pytest.param("opa", marks=[pytest.mark.opa, pytest.mark.skipif(
                                             not opa_available(), reason=OPA_MISSING)])])  # fmt: skip
def test_the_indexes_only_spare_rules_and_limits_that_cannot_apply(library, engine_name):
    """Decisions over the indexes the engine derived at load equal those of the full scans
    of data.rules and data.limits (what `accord policy test` runs), rule for rule and limit
    for limit."""
    modules, data = library[0], _more_rules(library[1])
    engine = engine_class(engine_name).load(modules, data)
    derived = engine.document("data.derived")
    assert derived["rule_index"]["named"]["signMessage"] and derived["rule_index"]["any"]["signTransaction"]
    assert derived["limit_index"]["named"] and derived["limit_index"]["any"], derived["limit_index"]
    generator = Generator(data, SEED + 1)
    spared = compared = in_scope = 0
    while compared < CASES // 3:
        try:
            prepared = prepare_input(generator.request())
        except InputError:
            continue
        [indexed] = engine.query("a := data.accord.criteria.applicable; c := data.accord.criteria.candidates; "
                                 "l := data.accord.limits.in_scope", prepared.json)  # fmt: skip
        [scanned] = engine.query("a := data.accord.criteria.applicable with data.derived as {}; "
                                 "l := data.accord.limits.in_scope with data.derived as {}; "
                                 "d := data.accord.decision with data.derived as {}", prepared.json)  # fmt: skip
        assert sorted(indexed["a"]) == sorted(scanned["a"]), prepared.json.decode()
        assert indexed.get("l") == scanned.get("l"), prepared.json.decode()
        assert engine.decide(prepared).to_json() == Decision.from_policy_output(scanned["d"]).to_json()
        spared += len(data["rules"]) - sum(len(rules) for rules in indexed["c"])
        in_scope += bool(indexed.get("l"))
        compared += 1
    assert spared > compared, "the index spared no rule: the decisions scanned them all"
    assert in_scope > compared // 4, "too few requests with limits in scope to compare"
