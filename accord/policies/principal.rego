# Who is asking, and who approved.
#
# The evaluator resolves input.principal from the verified request key and passes the key's
# RFC 7638 thumbprint as input.key; input.approvals lists the principal ids whose approval
# signatures over input.request_hash it verified.
package accord.principal

# The requester's roles and groups, plus "*", which is what a rule or limit without that
# criterion names (see criteria.rego).
default roles := {"*"}

roles := {role | some role in data.principals[input.principal].roles} | {"*"}

default groups := {"*"}

groups := {group | some group in data.principals[input.principal].groups} | {"*"}

# Approvers that count: known principals other than the requester (nobody approves their
# own request).
approvers := {id |
	some id in input.approvals
	id != input.principal
	data.principals[id]
}
