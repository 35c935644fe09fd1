# Rule criteria: a rule of data.rules applies when the request meets every criterion it
# names; a criterion it does not name matches anything, one named with an empty list
# matches nothing. validate.rego keeps transaction criteria on signTransaction rules (and
# typed-data criteria on signTypedData, permissions on grantPermission), so the defaults
# below never widen a rule.
#
# Written for speed (see README.md, "Performance"): one comprehension binds the request
# facts once and checks every rule inline, a missing criterion being a default that matches
# (object.get), most selective criteria first.
package accord.criteria

# Every member a rule may have; validate.rego refuses data with any other (a misspelt
# criterion must not silently widen a permit).
rule_keys := {
	"effect", "description", "actions", "principals", "roles", "groups", "accounts",
	"intents", "tokens", "destinations", "max_amount", "above_amount", "time_of_day",
	"permissions", "primary_types", "verifying_contracts", "approvals",
}

zero_amount := "000000000000000000000000000000000000000000000000000000000000000000000000000000"

# applicable: ids of the rules (permit and forbid) whose criteria the request meets
# (approvals aside).
applicable := {id |
	action := input.request.action
	resource := input.request.resource
	roles := data.accord.principal.roles
	groups := data.accord.principal.groups
	intent_type := object.get(input, ["intent", "type"], "")
	token := object.get(input, ["intent", "token"], "")
	amount := object.get(input, ["intent", "amount"], zero_amount)
	destinations := data.accord.transaction.destination_tags
	permissions := object.get(input.request.payload, "permissions", [])
	primary_type := object.get(input.request.payload, ["typed_data", "primaryType"], "")
	contract := object.get(input.request.payload, ["typed_data", "domain", "verifyingContract"], "")

	some rules in candidates
	some id, rule in rules
	action in rule.actions
	resource in object.get(rule, "accounts", [resource])
	intent_type in object.get(rule, "intents", [intent_type])
	token in object.get(rule, "tokens", [token])
	input.principal in object.get(rule, "principals", [input.principal])
	some role in object.get(rule, "roles", ["*"])
	role in roles
	some group in object.get(rule, "groups", ["*"])
	group in groups
	some destination in object.get(rule, "destinations", ["*"])
	destination in destinations
	amount <= object.get(rule, "max_amount", amount) # amounts are 78-digit strings:
	amount > object.get(rule, "above_amount", "") #    string order is numeric order
	every permission in permissions {
		permission in object.get(rule, "permissions", permissions)
	}
	primary_type in object.get(rule, "primary_types", [primary_type])
	contract in object.get(rule, "verifying_contracts", [contract])
	time_ok(object.get(rule, "time_of_day", null))
}

# candidates: the rules (id -> rule, in one or two objects) that may apply to this request's
# action and account, from the index the engine derived from data.rules when it loaded the
# bundle (see data.accord.derived); all of data.rules where there is no index (the policy
# test runner does not derive one, so that a test's `with data.rules as ...` takes effect).
# `applicable` checks action and account itself, so the index only spares it the rules that
# cannot apply.
candidates := [object.get(index.any, action, {}), object.get(object.get(index.named, action, {}), input.request.resource, {})] if {
	index = data.derived.rule_index # `=`: it may be undefined (README.md, "Writing Rego that every engine evaluates alike")
	action := input.request.action
} else := [data.rules]

# by_account[action][account][id]: the rules of an action that name the account;
# any_account[action][id]: those without an accounts criterion. One pass over the rules,
# once per bundle.
by_account[action][account][id] := rule if {
	some id, rule in data.rules
	some action in rule.actions
	some account in rule.accounts
}

any_account[action][id] := rule if {
	some id, rule in data.rules
	some action in rule.actions
	not rule.accounts
}

time_ok(null) := true

time_ok(tod) if {
	tod != null
	data.accord.clock.within(tod)
}
