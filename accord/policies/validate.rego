# Validation of the data document against this library's schema. The engine evaluates
# data.accord.data_errors once, when a bundle is loaded, and refuses the bundle if it is not
# empty: a malformed rule or limit must fail closed, never be skipped.
package accord.validate

time_pattern := `^([01][0-9]|2[0-3]):[0-5][0-9]$`

address_pattern := `^0x[0-9a-f]{40}$`

windows := {"rolling_1h", "rolling_24h", "rolling_7d", "rolling_30d", "hour", "day", "week", "month"}

# Members that hold a list of names.
list_keys := {
	"actions", "principals", "roles", "groups", "accounts", "intents", "tokens", "destinations",
	"permissions", "primary_types", "verifying_contracts",
}

# Criteria that only make sense for one action.
action_criteria := {
	"signTransaction": {"intents", "tokens", "destinations", "max_amount", "above_amount"},
	"signTypedData": {"primary_types", "verifying_contracts"},
	"grantPermission": {"permissions"},
}

errors contains sprintf("rule %s: %s", [id, problem]) if {
	some id, rule in data.rules
	some problem in rule_problems(rule)
}

errors contains sprintf("limit %s: %s", [id, problem]) if {
	some id, limit in data.limits
	some problem in limit_problems(limit)
}

# Each problem is reported when its check is false *or undefined*: a missing member fails.
# Checks are functions: `not obj.member in set` with the member missing is true on regorus
# but false on OPA (tests/policies/test_engine_divergences.py).
rule_problems(rule) := (((((({sprintf("unknown member %s", [key]) | some key, _ in rule; not key in data.accord.criteria.rule_keys} |
	list_problems(rule)) |
	{"effect must be permit or forbid" | not effect_valid(rule)}) |
	{"actions must be a non-empty array of known actions" | not actions_valid(rule)}) |
	{sprintf("%s needs actions == [%s]", [key, action]) | some action, keys in action_criteria; some key in keys; rule[key]; rule.actions != [action]}) |
	{"approvals must be [{count >= 1, group or role}] on a permit rule" | not approvals_valid(rule)}) |
	{"time_of_day must be {start, end: HH:MM (different), days?: [mon..sun], utc_offset_minutes?: -840..840}" | not time_of_day_valid(rule)}) |
	{"verifying_contracts must be lowercase 0x addresses" | not contracts_valid(rule)}

list_problems(obj) := {sprintf("%s must be an array of strings", [key]) |
	some key in list_keys
	obj[key]
	not strings(obj[key])
}

strings(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}

effect_valid(rule) if rule.effect in {"permit", "forbid"}

actions_valid(rule) if {
	is_array(rule.actions)
	count(rule.actions) > 0
	every action in rule.actions {
		action in data.accord.checks.actions
	}
}

approvals_valid(rule) if not rule.approvals

approvals_valid(rule) if {
	rule.effect == "permit"
	is_array(rule.approvals)
	every spec in rule.approvals {
		approval_spec_valid(spec)
	}
}

approval_spec_valid(spec) if {
	is_number(spec.count)
	spec.count >= 1
	object.keys(spec) in {{"count", "group"}, {"count", "role"}}
	every value in object.remove(spec, ["count"]) {
		is_string(value)
	}
}

time_of_day_valid(rule) if not rule.time_of_day

time_of_day_valid(rule) if {
	tod := rule.time_of_day
	every key, _ in tod {
		key in {"start", "end", "days", "utc_offset_minutes"}
	}
	regex.match(time_pattern, tod.start)
	regex.match(time_pattern, tod.end)
	tod.start != tod.end
	every day in object.get(tod, "days", []) {
		day in data.accord.clock.day_names
	}
	offset := object.get(tod, "utc_offset_minutes", 0)
	is_number(offset)
	offset >= -840
	offset <= 840
}

contracts_valid(rule) if not rule.verifying_contracts

contracts_valid(rule) if {
	every contract in rule.verifying_contracts {
		regex.match(address_pattern, contract)
	}
}

limit_problems(limit) := ((({sprintf("unknown member %s", [key]) | some key, _ in limit; not key in data.accord.limits.limit_keys} |
	list_problems(limit)) |
	{"a spending limit needs token and max_amount, a rate limit max_count >= 1" | not kind_valid(limit)}) |
	{"window must be one of rolling_1h, rolling_24h, rolling_7d, rolling_30d, hour, day, week, month" | not window_valid(limit)}) |
	{"per must be principal, account or all" | not per_valid(limit)}

window_valid(limit) if limit.window in windows

per_valid(limit) if limit.per in {"principal", "account", "all"}

kind_valid(limit) if {
	limit.kind == "spending"
	is_string(limit.token)
	is_string(limit.max_amount)
	not limit.max_count
}

kind_valid(limit) if {
	limit.kind == "rate"
	is_number(limit.max_count)
	limit.max_count >= 1
	not limit.max_amount
}
