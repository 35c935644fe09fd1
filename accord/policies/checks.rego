# Checks that forbid whatever the rules say: requests that do not fit the data.
package accord.checks

actions := {"signTransaction", "signMessage", "signTypedData", "signRaw", "grantPermission"}

errors contains sprintf("unknown principal %s", [input.principal]) if not data.principals[input.principal]

errors contains sprintf("key %s is not registered for principal %s", [input.key, input.principal]) if {
	principal = data.principals[input.principal] # one variable key at a time: see README.md, "Performance"
	principal
	not principal.keys[input.key]
}

errors contains sprintf("unknown action %s", [input.request.action]) if not known_action

known_action if input.request.action in actions

errors contains sprintf("unknown account %s", [input.request.resource]) if {
	input.request.action != "grantPermission"
	not data.accounts[input.request.resource]
}

errors contains sprintf("chain %d is not the chain of account %s", [input.request.payload.chain_id, input.request.resource]) if {
	input.request.action == "signTransaction"
	input.request.payload.chain_id != data.accounts[input.request.resource].chain_id
}

errors contains sprintf("asset %s is not allowlisted", [token]) if {
	token = input.intent.token # a request without an intent (not a transaction) adds nothing
	not data.tokens[token]
}

errors contains sprintf("permissions can only be granted to a known principal, not %s", [input.request.resource]) if {
	input.request.action == "grantPermission"
	not data.principals[input.request.resource]
}
