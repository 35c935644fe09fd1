package data.accord.decision_test

no_approvals := {"required": [], "missing": [], "satisfied": []}

payout(units) := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, units, "Kraken deposit")

large_approval(approvers) := {"id": "ops-usdc-large#0", "count": 2, "of": "group:approvers", "approvers": approvers}

test_permit if {
	data.accord.decision == {
		"decision": "permit",
		"reasons": ["permitted by rule ops-usdc-business-hours"],
		"approvals": no_approvals,
	} with input as payout("5000000000")
}

test_confirm_lists_missing_approvals if {
	inp := data.accord.testing.with_approvals(payout("50000000000"), ["dave"])
	data.accord.decision == {
		"decision": "confirm",
		"reasons": ["rule ops-usdc-large requires approvals"],
		"approvals": {"required": [large_approval(["dave"])], "missing": [large_approval(["dave"])], "satisfied": []},
	} with input as inp
}

test_permit_once_approved if {
	inp := data.accord.testing.with_approvals(payout("50000000000"), ["dave", "erin"])
	data.accord.decision == {
		"decision": "permit",
		"reasons": ["permitted by rule ops-usdc-large"],
		"approvals": {"required": [large_approval(["dave", "erin"])], "missing": [], "satisfied": [large_approval(["dave", "erin"])]},
	} with input as inp
}

test_self_approval_does_not_count if {
	inp := data.accord.testing.with_approvals(payout("50000000000"), ["dave", "erin"])
	data.accord.decision.decision == "confirm" with input as inp with input.principal as "carol" with input.key as data.accord.testing.key("carol") with input.approvals as ["carol", "dave"]
}

test_any_forbid_wins if {
	# over 5M USDC: no-usdc-over-5m forbids although ops-usdc-large would ask for approvals
	inp := data.accord.testing.with_approvals(payout("5000000000001"), ["dave", "erin"])
	d := data.accord.decision with input as inp
	d.decision == "forbid"
	"forbidden by rule no-usdc-over-5m" in d.reasons
}

test_limit_forbids if {
	over := data.accord.testing.amount("250000000001")
	d := data.accord.decision with input as payout("5000000000") with input.spent.rolling_24h.principal.amount as over
	d == {"decision": "forbid", "reasons": ["spending limit ops-usdc-daily exceeded"], "approvals": no_approvals}
}

test_check_forbids if {
	d := data.accord.decision with input as payout("5000000000") with input.key as data.accord.testing.key("alice")
	d.decision == "forbid"
}

test_nothing_matched_forbids if {
	inp := data.accord.testing.transfer("grace", "ops-wallet", data.accord.testing.usdc, "1", "Kraken deposit")
	data.accord.decision == {"decision": "forbid", "reasons": ["no rule permits this request"], "approvals": no_approvals} with input as inp
}

test_raw_signing_is_forbidden if {
	inp := data.accord.testing.request("alice", "signRaw", "ops-wallet", {"raw": "0xdeadbeef"})
	data.accord.decision.reasons == ["forbidden by rule no-raw-signing"] with input as inp
}

test_cold_withdrawal_needs_cfo_and_two_approvers if {
	inp := data.accord.testing.transfer("alice", "treasury-cold", data.accord.testing.eth, "1000000000000000000000", "Treasury hot wallet")
	data.accord.decision.decision == "confirm" with input as data.accord.testing.with_approvals(inp, ["dave", "erin"])
	data.accord.decision.decision == "confirm" with input as data.accord.testing.with_approvals(inp, ["frank"])
	data.accord.decision.decision == "permit" with input as data.accord.testing.with_approvals(inp, ["dave", "frank"])
}

test_grant_permission if {
	inp := data.accord.testing.request("alice", "grantPermission", "bob", {"permissions": ["wallet:read"]})
	data.accord.decision.decision == "permit" with input as inp
	data.accord.decision.decision == "forbid" with input as inp with input.principal as "bob" with input.key as data.accord.testing.key("bob")
}

test_data_errors_is_the_validation if {
	data.accord.data_errors == set()
	data.accord.data_errors == {"rule r: effect must be permit or forbid"} with data.rules as {"r": {"actions": ["signRaw"]}}
}
