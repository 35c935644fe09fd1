package accord.principal_test

test_roles_and_groups_of_the_requester if {
	data.accord.principal.roles == {"member", "*"} with input.principal as "bob"
	data.accord.principal.groups == {"treasury-ops", "*"} with input.principal as "bob"
}

test_unknown_requester_has_only_the_wildcard if {
	data.accord.principal.roles == {"*"} with input.principal as "mallory"
	data.accord.principal.groups == {"*"} with input.principal as "mallory"
}

test_approvers_are_known_principals if {
	data.accord.principal.approvers == {"dave", "erin"} with input as {"principal": "bob", "approvals": ["dave", "erin", "mallory"]}
}

test_requester_does_not_approve_own_request if {
	data.accord.principal.approvers == {"erin"} with input as {"principal": "dave", "approvals": ["dave", "erin"]}
}
