package accord_test

import rego.v1

request(action, principal) := {
	"request": {"action": action, "resource": "ops-wallet", "payload": {}},
	"principal": principal,
}

test_an_admin_may_sign_a_message if {
	data.accord.decision.decision == "permit" with input as request("signMessage", "alice")
}

test_nothing_else_is_permitted if {
	data.accord.decision.decision == "forbid" with input as request("signRaw", "alice")
	data.accord.decision.decision == "forbid" with input as request("signMessage", "mallory")
}

test_roles_must_be_an_array if {
	count(data.accord.data_errors) == 1 with data.principals.bob as {"roles": "admin", "keys": {}}
}
