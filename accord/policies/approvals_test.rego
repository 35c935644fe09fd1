package accord.approvals_test

cold := data.rules["cold-withdrawals"]

test_requirements_list_counting_approvers if {
	items := data.accord.approvals.requirements("cold-withdrawals", cold) with input as {"principal": "alice", "approvals": ["dave", "frank", "grace"]}
	items == {
		{"id": "cold-withdrawals#0", "count": 1, "of": "role:cfo", "approvers": ["frank"]},
		{"id": "cold-withdrawals#1", "count": 2, "of": "group:approvers", "approvers": ["dave", "frank"]},
	}
}

test_requester_and_unknown_approvers_do_not_count if {
	items := data.accord.approvals.requirements("cold-withdrawals", cold) with input as {"principal": "frank", "approvals": ["frank", "mallory", "erin"]}
	items == {
		{"id": "cold-withdrawals#0", "count": 1, "of": "role:cfo", "approvers": []},
		{"id": "cold-withdrawals#1", "count": 2, "of": "group:approvers", "approvers": ["erin"]},
	}
}

test_rule_without_approvals_requires_none if {
	data.accord.approvals.requirements("x", {"effect": "permit"}) == set() with input as {"principal": "bob", "approvals": []}
}

test_met_needs_count_approvers if {
	data.accord.approvals.met({"count": 2, "approvers": ["a", "b"]})
	not data.accord.approvals.met({"count": 2, "approvers": ["a"]})
}
