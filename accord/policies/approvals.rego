# Approvals: a permit rule may require n approvals from a group or a role
#   "approvals": [{"count": 2, "group": "approvers"}, {"count": 1, "role": "cfo"}]
# Until every requirement has enough verified approvers the rule yields `confirm`.
package accord.approvals

# requirements(id, rule): the rule's requirements as decision items
#   {"id": "<rule>#<index>", "count": n, "of": "group:<g>"|"role:<r>", "approvers": [...]}
# where approvers are the verified approvers that count towards it.
requirements(id, rule) := {item |
	some i, spec in object.get(rule, "approvals", [])
	item := {
		"id": sprintf("%s#%d", [id, i]),
		"count": spec.count,
		"of": source(spec),
		"approvers": sort([a | some a in data.accord.principal.approvers; qualifies(a, spec)]),
	}
}

source(spec) := concat(":", ["group", spec.group]) if spec.group

source(spec) := concat(":", ["role", spec.role]) if spec.role

qualifies(id, spec) if spec.group in data.principals[id].groups

qualifies(id, spec) if spec.role in data.principals[id].roles

met(item) if count(item.approvers) >= item.count
