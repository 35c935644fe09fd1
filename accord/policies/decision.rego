# The Accord decision: data.accord.decision
#   {"decision": "permit"|"forbid"|"confirm", "reasons": [...],
#    "approvals": {"required": [...], "missing": [...], "satisfied": [...]}}
#
# Any forbid wins (a forbid rule, a failed check, an exceeded limit); then a permit rule
# whose approvals are all met permits; then a permit rule still missing approvals asks to
# confirm; nothing matched means forbid.
package accord

# Problems with the data document; the engine refuses a bundle for which this is not empty
# (evaluated once at load, not per decision).
data_errors := data.accord.validate.errors

applicable := data.accord.criteria.applicable

# What the engine derives once per bundle, at load, and puts at data.derived (see "The
# decision contract" in the top-level README): the rule and limit indexes of criteria.rego
# and limits.rego.
derived := {
	"rule_index": {"any": data.accord.criteria.any_account, "named": data.accord.criteria.by_account},
	"limit_index": {"any": data.accord.limits.any_account, "named": data.accord.limits.by_account},
}

forbid_reasons := (data.accord.checks.errors | data.accord.limits.exceeded) | {concat(" ", ["forbidden by rule", id]) |
	some id in applicable
	data.rules[id].effect == "forbid"
}

# Permit rules that apply, with their approval requirements.
candidates := {id: data.accord.approvals.requirements(id, rule) |
	some id in applicable
	rule := data.rules[id]
	rule.effect == "permit"
}

permitted_by := {id |
	some id, items in candidates
	every item in items {
		data.accord.approvals.met(item)
	}
}

decision := verdict("forbid", forbid_reasons, set()) if {
	count(forbid_reasons) > 0
} else := verdict("permit", {sprintf("permitted by rule %s", [id]) | some id in permitted_by}, {item |
	some id in permitted_by
	some item in candidates[id]
}) if {
	count(permitted_by) > 0
} else := verdict("confirm", {sprintf("rule %s requires approvals", [id]) | some id, _ in candidates}, {item |
	some items in candidates
	some item in items
}) if {
	count(candidates) > 0
} else := verdict("forbid", {"no rule permits this request"}, set())

verdict(kind, reasons, required) := {
	"decision": kind,
	"reasons": sort(reasons),
	"approvals": {
		"required": sort(required),
		"missing": sort({item | some item in required; not data.accord.approvals.met(item)}),
		"satisfied": sort({item | some item in required; data.accord.approvals.met(item)}),
	},
}
