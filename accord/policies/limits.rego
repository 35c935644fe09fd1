# Spending and rate limits.
#
#   "limits": {"<id>": {
#       "kind": "spending" | "rate",
#       "max_amount": "<base units>",    spending: total of the window, this transfer included
#       "max_count": n,                  rate: transfers in the window, this one included
#       "token": "<token id>",           required for spending; for rate, count only this token
#       "window": "rolling_1h" | "rolling_24h" | "rolling_7d" | "rolling_30d"
#               | "hour" | "day" | "week" | "month",        (fixed windows: current UTC period)
#       "per": "principal" | "account" | "all",               whose transfers are totalled
#       "accounts": [...], "principals": [...], "roles": [...], "groups": [...]
#   }}                                   optional: which requests the limit applies to
#
# The evaluator totals the transfer history per window in Python (exact big-number sums,
# see README.md): input.spent[window][per] = {"amount", "count", "all_count"}, including the
# request itself, present for value-moving transactions only. Here a limit picks its total
# and compares.
package accord.limits

limit_keys := {"kind", "description", "max_amount", "max_count", "token", "window", "per", "accounts", "principals", "roles", "groups"}

exceeded := spending | rate

spending := {sprintf("spending limit %s exceeded", [id]) |
	some id, limit in in_scope
	limit.kind == "spending"
	totals = input.spent[limit.window] # one variable key at a time: see README.md, "Performance"
	totals[limit.per].amount > limit.max_amount
}

rate := {sprintf("rate limit %s exceeded", [id]) |
	some id, limit in in_scope
	limit.kind == "rate"
	totals = input.spent[limit.window]
	transfers(limit, totals[limit.per]) > limit.max_count
}

# A rate limit with a token counts that token's transfers, one without counts them all.
transfers(limit, total) := total.count if limit.token

transfers(limit, total) := total.all_count if not limit.token

# The limits that apply to this request: a value-moving transaction (input.spent is
# present) in the token, accounts, principals, roles and groups the limit names.
in_scope := {id: limit |
	input.spent
	token := input.intent.token
	roles := data.accord.principal.roles
	groups := data.accord.principal.groups
	some limits in candidates
	some id, limit in limits
	object.get(limit, "token", token) == token
	input.request.resource in object.get(limit, "accounts", [input.request.resource])
	input.principal in object.get(limit, "principals", [input.principal])
	some role in object.get(limit, "roles", ["*"])
	role in roles
	some group in object.get(limit, "groups", ["*"])
	group in groups
}

# candidates: the limits (id -> limit, in one or two objects) that may apply to this
# request's account, from the index the engine derived from data.limits when it loaded the
# bundle (see data.accord.derived); all of data.limits without an index (`accord policy
# test`). `in_scope` checks the account itself, so the index only spares it limits that
# cannot apply.
candidates := [index.any, object.get(index.named, input.request.resource, {})] if {
	index = data.derived.limit_index # `=`: it may be undefined (README.md, "Writing Rego that every engine evaluates alike")
} else := [data.limits]

# by_account[account][id]: the limits that name the account; any_account[id]: those without
# an accounts criterion. One pass over the limits, once per bundle.
by_account[account][id] := limit if {
	some id, limit in data.limits
	some account in limit.accounts
}

any_account[id] := limit if {
	some id, limit in data.limits
	not limit.accounts
}
