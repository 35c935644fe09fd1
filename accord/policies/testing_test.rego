# Helpers for the library's tests (no tests here): inputs shaped as accord.bundles.inputs
# prepares them, over the example data in data.json.
package accord.testing

zeros := "000000000000000000000000000000000000000000000000000000000000000000000000000000"

# amount("5000000"): the 78-digit amount string of a decimal string.
amount(s) := concat("", [substring(zeros, 0, 78 - count(s)), s])

usdc := "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"

eth := "eip155:1/native"

monday_10am := 1767607200 # 2026-01-05T10:00:00Z

monday_8pm := 1767643200

saturday_10am := 1767434400

request_hash := "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"

key(principal) := k if some k, _ in data.principals[principal].keys

# address(label): the address of the address book entry with that label.
address(label) := split(id, ":")[2] if {
	some id, entry in data.address_book
	entry.label == label
}

windows := ["rolling_1h", "rolling_24h", "rolling_7d", "rolling_30d", "hour", "day", "week", "month"]

# spent(total, count, all_count): the same totals in every window and for every holder.
spent(total, n, all) := {window: {holder: {"amount": total, "count": n, "all_count": all} |
	some holder in ["principal", "account", "all"]
} |
	some window in windows
}

request(principal, action, resource, payload) := {
	"request": {"action": action, "resource": resource, "payload": payload},
	"principal": principal,
	"key": key(principal),
	"approvals": [],
	"time": {"seconds": monday_10am},
	"request_hash": request_hash,
}

# transfer(principal, account, token, units, label): a transfer of `units` base units of
# `token` to the address book entry `label`, nothing else spent in any window.
transfer(principal, account, token, units, label) := object.union(
	request(principal, "signTransaction", account, {"chain_id": 1, "to": address(label), "value": zeros, "data": "0x"}),
	{
		"intent": {"type": intent_type(token), "token": token, "amount": amount(units), "destination": address(label)},
		"spent": spent(amount(units), 1, 1),
	},
)

intent_type(token) := "transferNative" if endswith(token, "/native")

intent_type(token) := "transferErc20" if contains(token, "/erc20:")

with_approvals(inp, ids) := object.union(inp, {"approvals": ids})

at(inp, seconds) := object.union(inp, {"time": {"seconds": seconds}})
