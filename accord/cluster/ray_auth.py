"""Ray's token authentication, on for every process Accord starts or connects from.

Ray turns token authentication on by default for a cluster `ray.init()` starts itself, but a
driver that joins an existing cluster by address sends no token unless `RAY_AUTH_MODE=token`
was set before Ray read its configuration. `require_token_auth` sets it (unless the operator
chose otherwise) and makes Ray read it again, so joining works whatever was imported first.
"""

from __future__ import annotations

import os


def require_token_auth() -> bool:
    """Turn token authentication on for this process and its children (the token comes from
    RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, as for `ray start`). Returns
    whether it is on (False only if the operator set RAY_AUTH_MODE to something else)."""
    from ray._raylet import Config

    if os.environ.setdefault("RAY_AUTH_MODE", "token") != "token":
        return False
    Config.initialize("")  # Ray caches the mode in its native config: read it again
    return True
