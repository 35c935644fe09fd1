package accord.checks_test

payout := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000", "Kraken deposit")

test_valid_request_has_no_errors if {
	data.accord.checks.errors == set() with input as payout
}

test_unknown_principal if {
	data.accord.checks.errors == {"unknown principal mallory"} with input as payout with input.principal as "mallory"
}

test_key_of_another_principal if {
	alice_key := data.accord.testing.key("alice")
	data.accord.checks.errors == {sprintf("key %s is not registered for principal bob", [alice_key])} with input as payout with input.key as alice_key
}

test_unknown_account if {
	data.accord.checks.errors == {"unknown account vault-9"} with input as payout with input.request.resource as "vault-9"
}

test_chain_of_account if {
	data.accord.checks.errors == {"chain 8453 is not the chain of account ops-wallet"} with input as payout with input.request.payload.chain_id as 8453
}

test_asset_not_allowlisted if {
	shitcoin := "eip155:1/erc20:0x1234567890123456789012345678901234567890"
	data.accord.checks.errors == {sprintf("asset %s is not allowlisted", [shitcoin])} with input as payout with input.intent.token as shitcoin
}

test_unknown_action if {
	inp := data.accord.testing.request("bob", "signEverything", "ops-wallet", {})
	data.accord.checks.errors == {"unknown action signEverything"} with input as inp
}

test_grant_to_unknown_principal if {
	inp := data.accord.testing.request("alice", "grantPermission", "mallory", {"permissions": ["wallet:read"]})
	data.accord.checks.errors == {"permissions can only be granted to a known principal, not mallory"} with input as inp
}

test_approving_an_unlisted_asset if {
	shitcoin := "eip155:1/erc20:0x1234567890123456789012345678901234567890"
	approve := object.union(payout, {"intent": {"type": "approveErc20", "token": shitcoin, "amount": testing_amount, "destination": payout.intent.destination}})
	data.accord.checks.errors == {sprintf("asset %s is not allowlisted", [shitcoin])} with input as object.remove(approve, ["spent"])
}

testing_amount := data.accord.testing.amount("1")
