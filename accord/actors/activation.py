"""Activating a new bundle revision on a running deployment, at a batch boundary.

1. Stage: every evaluator of every group verifies the bundle (pinned key, rollback, expiry)
   and loads it into a fresh engine, without activating it. Any refusal stops here: one
   line per distinct problem, naming the enclaves; the running revision stays everywhere.
2. Switch: the coordinator gives each group one more batch of its sequence, deciding no
   request, in which every evaluator activates the staged bundle. Batches are numbered and
   submitted in one order, so each request is decided under the same bundle by all the
   evaluators of its group: no request sees a mix (no divergence from the switch itself).
3. Repair: an evaluator that could not switch (it restarted and lost what it staged) is
   activated directly; it is behind the group's sequence anyway, and the next batch brings
   its state up to date from its peers. A group the coordinator does not run yet (no
   batches) is activated directly too.

The host orders the switch; it cannot choose what is activated (each enclave verified the
bundle itself) nor make evaluators of one group decide a request under different bundles
without that request failing as divergent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from accord.actors.bundle_verifier import VerifiedBytes
from accord.actors.invoke import Invoker
from accord.errors import AccordError, problems_by_source


class ActivationError(AccordError):
    """A new bundle revision could not be activated everywhere (see the subclasses)."""


class ActivationRefused(ActivationError):
    """The bundle was refused (by the verifier or an enclave); nothing was activated."""


class ActivationIncomplete(ActivationError):
    """Some evaluators could neither switch nor be activated directly (named)."""


@dataclass
class Activation:
    """What `activate_at_batch_boundary` did."""

    version: int
    digest: str
    switched: dict[str, int] = field(default_factory=dict)  # enclave id -> group
    activated_directly: dict[str, str] = field(default_factory=dict)  # enclave id -> why

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "switched": sorted(self.switched),
                "activated_directly": self.activated_directly}  # fmt: skip


def activate_at_batch_boundary(invoker: Invoker, minter: Any, groups: Sequence[Any],
                               verified: VerifiedBytes) -> Activation:  # fmt: skip
    """Stage `verified` on every evaluator of `groups` (each with `evaluators` and
    `evaluator_ids`, in group order), switch each group at a batch boundary through
    `minter`, repair what did not switch (see the module)."""
    evaluators = [(ev, eid) for group in groups for ev, eid in zip(group.evaluators, group.evaluator_ids)]
    files = (verified.bundle, verified.signature, verified.public_key)
    staged = invoker.settle(invoker.submit([(ev, "stage", files) for ev, _ in evaluators]))
    refused = [(eid, r) for (_, eid), r in zip(evaluators, staged) if isinstance(r, BaseException)]
    if refused:
        raise ActivationRefused("\n".join(f"bundle refused: {line}" for line in problems_by_source(refused)))
    digests = {r["digest"] for r in staged}
    if digests != {verified.digest}:
        raise ActivationRefused(f"evaluators staged other bundles than {verified.digest}: {sorted(digests)}")
    outcome = Activation(staged[0]["version"], verified.digest)
    results = invoker.call(minter, "switch_bundle", verified.digest)
    failed = []
    for index, group in enumerate(groups):
        errors = results.get(index)
        for ev, eid in zip(group.evaluators, group.evaluator_ids):
            if errors is not None and errors.get(eid) is None:
                outcome.switched[eid] = index
                continue
            why = "its group runs no batches yet" if errors is None else errors[eid]
            try:
                invoker.call(ev, "activate", *files)
            except Exception as exc:  # noqa: BLE001 - reported with the enclave's name
                failed.append((eid, exc))
            outcome.activated_directly[eid] = why
    if failed:
        raise ActivationIncomplete("\n".join(f"not activated: {line}" for line in problems_by_source(failed)))
    return outcome
