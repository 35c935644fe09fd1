package accord.validate_test

ok_rule := {"effect": "permit", "actions": ["signTransaction"]}

ok_limit := {"kind": "rate", "max_count": 5, "window": "day", "per": "principal"}

rule_errors(rule) := errors if {
	errors := data.accord.validate.errors with data.rules as {"r": rule} with data.limits as {}
}

limit_errors(limit) := errors if {
	errors := data.accord.validate.errors with data.limits as {"l": limit} with data.rules as {}
}

test_example_data_is_valid if {
	data.accord.validate.errors == set()
}

test_minimal_rule_and_limit_are_valid if {
	rule_errors(ok_rule) == set()
	limit_errors(ok_limit) == set()
}

test_unknown_rule_member if {
	rule_errors(object.union(ok_rule, {"principles": ["bob"]})) == {"rule r: unknown member principles"}
}

test_effect if {
	rule_errors(object.union(ok_rule, {"effect": "allow"})) == {"rule r: effect must be permit or forbid"}
	rule_errors(object.remove(ok_rule, ["effect"])) == {"rule r: effect must be permit or forbid"}
}

test_actions if {
	problem := "rule r: actions must be a non-empty array of known actions"
	rule_errors(object.union(ok_rule, {"actions": []})) == {problem}
	rule_errors(object.union(ok_rule, {"actions": ["signEverything"]})) == {problem}
	rule_errors(object.remove(ok_rule, ["actions"])) == {problem}
}

test_lists_must_hold_strings if {
	rule_errors(object.union(ok_rule, {"accounts": "ops-wallet"})) == {"rule r: accounts must be an array of strings"}
	rule_errors(object.union(ok_rule, {"roles": [1]})) == {"rule r: roles must be an array of strings"}
}

test_transaction_criteria_need_sign_transaction_only if {
	rule := {"effect": "forbid", "actions": ["signTransaction", "signMessage"], "tokens": [data.accord.testing.usdc]}
	rule_errors(rule) == {"rule r: tokens needs actions == [signTransaction]"}
	rule_errors({"effect": "permit", "actions": ["signMessage"], "permissions": ["x"]}) == {"rule r: permissions needs actions == [grantPermission]"}
}

test_approvals if {
	problem := "rule r: approvals must be [{count >= 1, group or role}] on a permit rule"
	rule_errors(object.union(ok_rule, {"approvals": [{"count": 2, "group": "approvers"}]})) == set()
	rule_errors(object.union(ok_rule, {"approvals": [{"count": 0, "group": "approvers"}]})) == {problem}
	rule_errors(object.union(ok_rule, {"approvals": [{"count": 1, "group": "approvers", "role": "cfo"}]})) == {problem}
	rule_errors(object.union(ok_rule, {"approvals": [{"count": 1}]})) == {problem}
	rule_errors({"effect": "forbid", "actions": ["signRaw"], "approvals": [{"count": 1, "role": "cfo"}]}) == {problem}
}

test_time_of_day if {
	problem := "rule r: time_of_day must be {start, end: HH:MM (different), days?: [mon..sun], utc_offset_minutes?: -840..840}"
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "18:00", "days": ["mon"], "utc_offset_minutes": -300}})) == set()
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "8:00", "end": "18:00"}})) == {problem}
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "24:00"}})) == {problem}
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "08:00"}})) == {problem}
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "18:00", "days": ["monday"]}})) == {problem}
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "18:00", "utc_offset_minutes": 900}})) == {problem}
	rule_errors(object.union(ok_rule, {"time_of_day": {"start": "08:00", "end": "18:00", "tz": "Europe/Paris"}})) == {problem}
}

test_verifying_contracts_are_lowercase if {
	rule := {"effect": "permit", "actions": ["signTypedData"], "verifying_contracts": ["0x000000000022D473030F116dDEE9F6B43aC78BA3"]}
	rule_errors(rule) == {"rule r: verifying_contracts must be lowercase 0x addresses"}
}

test_limit_kind if {
	problem := "limit l: a spending limit needs token and max_amount, a rate limit max_count >= 1"
	limit_errors(object.union(ok_limit, {"max_count": 0})) == {problem}
	limit_errors(object.union(ok_limit, {"kind": "spending"})) == {problem}
	limit_errors({"kind": "spending", "token": data.accord.testing.usdc, "max_amount": data.accord.testing.amount("5"), "window": "week", "per": "all"}) == set()
}

test_limit_window_and_per if {
	limit_errors(object.union(ok_limit, {"window": "rolling_2h"})) == {"limit l: window must be one of rolling_1h, rolling_24h, rolling_7d, rolling_30d, hour, day, week, month"}
	limit_errors(object.union(ok_limit, {"per": "group"})) == {"limit l: per must be principal, account or all"}
}

test_unknown_limit_member if {
	limit_errors(object.union(ok_limit, {"destinations": ["exchange"]})) == {"limit l: unknown member destinations"}
}
