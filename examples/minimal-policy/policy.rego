package accord

import rego.v1

# The smallest complete decision policy: admins may sign messages, nothing else.

default decision := {
	"decision": "forbid",
	"reasons": ["no rule permits this request"],
	"approvals": {"required": [], "missing": [], "satisfied": []},
}

decision := {"decision": "permit", "reasons": [], "approvals": {"required": [], "missing": [], "satisfied": []}} if {
	input.request.action == "signMessage"
	"admin" in data.principals[input.principal].roles
}

# Optional: problems with the data; a non-empty set refuses the bundle at load.
data_errors contains sprintf("data.principals.%s.roles must be an array", [id]) if {
	some id, principal in data.principals
	not is_array(object.get(principal, "roles", []))
}
