package accord.limits_test

payout := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "5000000000", "Kraken deposit")

usdc_250k := data.accord.testing.amount("250000000000")

test_within_spending_limit if {
	data.accord.limits.exceeded == set() with input as payout
}

test_spending_limit_at_the_cap_is_allowed if {
	data.accord.limits.exceeded == set() with input as payout with input.spent.rolling_24h.principal.amount as usdc_250k
}

test_spending_limit_over_the_cap if {
	over := data.accord.testing.amount("250000000001")
	data.accord.limits.exceeded == {"spending limit ops-usdc-daily exceeded"} with input as payout with input.spent.rolling_24h.principal.amount as over
}

test_spending_limit_counts_its_holder_and_window_only if {
	over := data.accord.testing.amount("250000000001")
	data.accord.limits.exceeded == set() with input as payout with input.spent.rolling_24h.account.amount as over
	data.accord.limits.exceeded == set() with input as payout with input.spent.rolling_7d.principal.amount as over
}

test_spending_limit_is_per_token if {
	eth := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.eth, "1", "Kraken deposit")
	over := data.accord.testing.amount("250000000001")
	data.accord.limits.exceeded == set() with input as eth with input.spent.rolling_24h.principal.amount as over
}

test_spending_limit_scope_by_group if {
	over := data.accord.testing.amount("250000000001")
	data.accord.limits.exceeded == set() with input as payout with input.spent.rolling_24h.principal.amount as over with input.principal as "svc-payroll"
}

test_rate_limit_counts_all_tokens if {
	data.accord.limits.exceeded == set() with input as payout with input.spent.rolling_1h.principal.all_count as 20
	data.accord.limits.exceeded == {"rate limit ops-hourly-rate exceeded"} with input as payout with input.spent.rolling_1h.principal.all_count as 21
}

test_rate_limit_with_token_counts_that_token if {
	rate := {"usdc-rate": {"kind": "rate", "token": data.accord.testing.usdc, "max_count": 3, "window": "day", "per": "account"}}
	data.accord.limits.exceeded == set() with input as payout with data.limits as rate with input.spent.day.account.all_count as 9
	data.accord.limits.exceeded == {"rate limit usdc-rate exceeded"} with input as payout with data.limits as rate with input.spent.day.account.count as 4
}

test_fixed_window_account_limit if {
	eth := data.accord.testing.transfer("alice", "treasury-hot", data.accord.testing.eth, "1", "Kraken deposit")
	over := data.accord.testing.amount("50000000000000000001") # 50 ETH + 1 wei, beyond 2^53
	data.accord.limits.exceeded == {"spending limit hot-eth-daily exceeded"} with input as eth with input.spent.day.account.amount as over
	data.accord.limits.exceeded == set() with input as eth with input.spent.day.principal.amount as over
}

test_no_spending_no_limits if {
	msg := data.accord.testing.request("bob", "signMessage", "ops-wallet", {"message": "hi"})
	data.accord.limits.exceeded == set() with input as msg
}

# The limit index (derived by the engine at load, data.derived): only the limits of the
# request's account are visited; without an index (as in these tests) every limit is.
index_limits := {
	"ops-only": {"kind": "rate", "max_count": 1, "window": "day", "per": "account", "accounts": ["ops-wallet", "cold"]},
	"payroll-only": {"kind": "rate", "max_count": 1, "window": "day", "per": "account", "accounts": ["payroll"]},
	"everywhere": {"kind": "rate", "max_count": 1, "window": "day", "per": "all"},
}

candidate_ids := {id | some limits in data.accord.limits.candidates; some id, _ in limits}

test_limit_index_by_account if {
	ids := {account: object.keys(limits) | some account, limits in data.accord.limits.by_account} with data.limits as index_limits
	ids == {"ops-wallet": {"ops-only"}, "cold": {"ops-only"}, "payroll": {"payroll-only"}}
	everywhere := index_limits.everywhere # bound first: see test_policy_divergences.py
	data.accord.limits.any_account == {"everywhere": everywhere} with data.limits as index_limits
}

test_limit_candidates_come_from_the_index if {
	derived := data.accord.derived with data.limits as index_limits
	candidate_ids == {"ops-only", "everywhere"} with input as payout with data.limits as index_limits with data.derived as derived
	object.keys(data.accord.limits.in_scope) == {"ops-only", "everywhere"} with input as payout with data.limits as index_limits with data.derived as derived
}

test_limit_candidates_are_every_limit_without_an_index if {
	candidate_ids == {"ops-only", "payroll-only", "everywhere"} with input as payout with data.limits as index_limits
	object.keys(data.accord.limits.in_scope) == {"ops-only", "everywhere"} with input as payout with data.limits as index_limits
}
