"""Which signing group decides a request, so that limits and replay hold across groups.

With several groups each keeps its own state (see `group_state`), so a request must always be
decided by the same group: otherwise a host could send a replay, or a transfer past a limit,
to a group that has not seen the earlier ones. The rule, which every evaluator enforces on
the request itself (a request routed elsewhere is refused with `wrong_group`) and which the
coordinator follows to route:

- a transfer whose decision reads the spending ledger goes to `LEDGER_GROUP`, the one group
  that holds the ledger: every limit is exact across the whole deployment;
- any other request goes to the group its signing key hashes to, so that a key's nonces and
  its approvals are always checked by the same group.

The cost is that value-moving throughput does not scale with more groups; everything else
does. (Replicating ledger entries across groups in one total order would lift that, at the
price of a cross-group round per batch.)
"""

from __future__ import annotations

import hashlib
from typing import Any

from accord.bundles.inputs import moves_value

LEDGER_GROUP = 0


def route(action: Any, payload: Any, jkt: str, groups: int) -> int:
    """The group (0..groups-1) that decides a request of `action`/`payload` signed by `jkt`."""
    if groups == 1 or moves_value(action, payload):
        return LEDGER_GROUP
    return int.from_bytes(hashlib.sha256(jkt.encode()).digest()[:8], "big") % groups
