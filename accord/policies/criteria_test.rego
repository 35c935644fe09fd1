package accord.criteria_test

small_usdc_payout := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000", "Kraken deposit") # 5,000 USDC

test_small_payout_in_business_hours if {
	data.accord.criteria.applicable == {"ops-usdc-business-hours", "ops-usdc-large"} with input as small_usdc_payout
}

test_business_hours_rule_needs_business_hours if {
	inp := data.accord.testing.at(small_usdc_payout, data.accord.testing.saturday_10am)
	data.accord.criteria.applicable == {"ops-usdc-large"} with input as inp
}

test_max_amount_is_inclusive if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "10000000000", "Kraken deposit") # exactly 10,000 USDC
	"ops-usdc-business-hours" in data.accord.criteria.applicable with input as inp
	above := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "10000000001", "Kraken deposit")
	not "ops-usdc-business-hours" in data.accord.criteria.applicable with input as above
}

test_amounts_compare_beyond_2_to_the_53 if {
	# 2^53 + 1 wei and 10^30 wei: compared as 78-digit strings, exactly
	small := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.eth, "9007199254740993", "Kraken deposit")
	"ops-eth-small" in data.accord.criteria.applicable with input as small
	huge := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.eth, "1000000000000000000000000000000", "Kraken deposit")
	not "ops-eth-small" in data.accord.criteria.applicable with input as huge
}

test_above_amount_is_exclusive if {
	at_cap := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000000", "Kraken deposit") # 5M USDC
	not "no-usdc-over-5m" in data.accord.criteria.applicable with input as at_cap
	over_cap := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000001", "Kraken deposit")
	"no-usdc-over-5m" in data.accord.criteria.applicable with input as over_cap
}

test_group_criterion if {
	not "ops-usdc-business-hours" in data.accord.criteria.applicable with input as small_usdc_payout with input.principal as "dave"
}

test_account_criterion if {
	inp := data.accord.testing.transfer("bob", "payroll", data.accord.testing.usdc, "5000000000", "Kraken deposit")
	data.accord.criteria.applicable == set() with input as inp
}

test_destination_classification if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000", "Treasury hot wallet")
	data.accord.criteria.applicable == {"ops-internal-transfers"} with input as inp
}

test_destination_by_caip10_address if {
	vendor := concat(":", ["eip155:1", data.accord.testing.address("Acme Corp (vendor)")])
	rules := {"pay-acme": {"effect": "permit", "actions": ["signTransaction"], "destinations": [vendor]}}
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "1", "Acme Corp (vendor)")
	data.accord.criteria.applicable == {"pay-acme"} with input as inp with data.rules as rules
	kraken := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "1", "Kraken deposit")
	data.accord.criteria.applicable == set() with input as kraken with data.rules as rules
}

test_token_criterion if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.eth, "1", "Kraken deposit")
	data.accord.criteria.applicable == {"ops-eth-small"} with input as inp
}

test_missing_criterion_matches_anything if {
	rules := {"anything": {"effect": "permit", "actions": ["signTransaction"]}}
	data.accord.criteria.applicable == {"anything"} with input as small_usdc_payout with data.rules as rules
}

test_empty_list_matches_nothing if {
	rules := {"nobody": {"effect": "permit", "actions": ["signTransaction"], "principals": []}}
	data.accord.criteria.applicable == set() with input as small_usdc_payout with data.rules as rules
}

test_role_criterion if {
	rules := {"members": {"effect": "permit", "actions": ["signTransaction"], "roles": ["cfo", "member"]}}
	data.accord.criteria.applicable == {"members"} with input as small_usdc_payout with data.rules as rules
	data.accord.criteria.applicable == set() with input as small_usdc_payout with data.rules as rules with input.principal as "alice"
}

test_unknown_principal_matches_no_rule if {
	rules := {"anything": {"effect": "permit", "actions": ["signTransaction"], "roles": ["member"]}}
	data.accord.criteria.applicable == set() with input as small_usdc_payout with data.rules as rules with input.principal as "mallory"
}

test_action_criterion if {
	inp := data.accord.testing.request("bob", "signMessage", "ops-wallet", {"message": "login"})
	data.accord.criteria.applicable == {"ops-sign-messages"} with input as inp
	raw := data.accord.testing.request("bob", "signRaw", "ops-wallet", {"raw": "0x00"})
	data.accord.criteria.applicable == {"no-raw-signing"} with input as raw
}

test_permissions_must_all_be_allowed if {
	ok := data.accord.testing.request("alice", "grantPermission", "bob", {"permissions": ["wallet:read", "wallet:create"]})
	data.accord.criteria.applicable == {"admins-grant-permissions"} with input as ok
	too_much := data.accord.testing.request("alice", "grantPermission", "bob", {"permissions": ["wallet:read", "wallet:delete"]})
	data.accord.criteria.applicable == set() with input as too_much
}

permit2 := {
	"types": {},
	"primaryType": "PermitSingle",
	"domain": {"name": "Permit2", "chainId": 1, "verifyingContract": "0x000000000022d473030f116ddee9f6b43ac78ba3"},
	"message": {},
}

test_typed_data_criteria if {
	inp := data.accord.testing.request("bob", "signTypedData", "ops-wallet", {"typed_data": permit2})
	data.accord.criteria.applicable == {"ops-permit2"} with input as inp
	other := data.accord.testing.request("bob", "signTypedData", "ops-wallet", {"typed_data": object.union(permit2, {"primaryType": "Order"})})
	data.accord.criteria.applicable == set() with input as other
	elsewhere := object.union(permit2, {"domain": {"verifyingContract": "0x1111111111111111111111111111111111111111"}})
	data.accord.criteria.applicable == set() with input as data.accord.testing.request("bob", "signTypedData", "ops-wallet", {"typed_data": elsewhere})
}

# The rule index (derived by the engine at load, data.derived): only the rules of the
# request's action and account are visited; without an index (as in these tests, which
# replace the rules) every rule is.
index_rules := {
	"here": {"effect": "permit", "actions": ["signTransaction", "signMessage"], "accounts": ["ops-wallet", "cold"]},
	"elsewhere": {"effect": "permit", "actions": ["signTransaction"], "accounts": ["payroll"]},
	"anywhere": {"effect": "forbid", "actions": ["signTransaction"]},
	"messages": {"effect": "permit", "actions": ["signMessage"]},
}

# The ids of the rules indexed under each action and account, and of the candidates.
index_ids := {action: {account: object.keys(rules) | some account, rules in by_account} |
	some action, by_account in data.accord.criteria.by_account
}

candidate_ids := {id | some rules in data.accord.criteria.candidates; some id, _ in rules}

test_rule_index_by_action_and_account if {
	index_ids == {
		"signTransaction": {"ops-wallet": {"here"}, "cold": {"here"}, "payroll": {"elsewhere"}},
		"signMessage": {"ops-wallet": {"here"}, "cold": {"here"}},
	} with data.rules as index_rules
	expected := {"signTransaction": {"anywhere": index_rules.anywhere}, "signMessage": {"messages": index_rules.messages}}
	data.accord.criteria.any_account == expected with data.rules as index_rules # bound first: see test_policy_divergences.py
}

test_candidates_come_from_the_index_of_these_rules if {
	derived := data.accord.derived with data.rules as index_rules
	candidate_ids == {"here", "anywhere"} with input as small_usdc_payout with data.rules as index_rules with data.derived as derived
	data.accord.criteria.applicable == {"here", "anywhere"} with input as small_usdc_payout with data.rules as index_rules with data.derived as derived
}

test_candidates_are_every_rule_without_an_index_of_these_rules if {
	candidate_ids == {"here", "elsewhere", "anywhere", "messages"} with input as small_usdc_payout with data.rules as index_rules
	data.accord.criteria.applicable == {"here", "anywhere"} with input as small_usdc_payout with data.rules as index_rules
}
