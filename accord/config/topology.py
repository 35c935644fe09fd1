"""Where Accord's actors live: signing groups, enclave hosts and their Ray resources.

An enclave host is found by a custom resource, never by node id (a replacement host gets a
new id). With one signing group the hosts offer `enclave-0`, `enclave-1`, `enclave-2`; with
several groups, group g's host i offers `enclave-<g>-<i>`. A node started with
`ray start --resources '{"enclave-1": 1}'` is host 1 of the (single) group.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.errors import AccordError


class TopologyError(AccordError):
    """The requested topology is not possible (sizes, names)."""


@dataclass(frozen=True)
class EnclaveSlot:
    """One enclave host: group g, index i (0-based) and the Ray resource that pins to it."""

    group: int
    index: int
    groups: int

    @property
    def resource(self) -> str:
        return f"enclave-{self.index}" if self.groups == 1 else f"enclave-{self.group}-{self.index}"

    @property
    def enclave_id(self) -> str:
        """Stable name of the enclave (state directory, sealing AAD, actor names)."""
        return f"g{self.group}-e{self.index}"

    @property
    def participant(self) -> int:
        """FROST identifier of this host within its group (1-based, never zero)."""
        return self.index + 1


@dataclass(frozen=True)
class Topology:
    """`groups` signing groups of `size` enclave hosts each; tokens need all `size` shares."""

    groups: int = 1
    size: int = 3

    def __post_init__(self) -> None:
        if self.groups < 1:
            raise TopologyError(f"need at least one signing group, got {self.groups}")
        if self.size < 2:
            raise TopologyError(f"a signing group needs at least 2 enclaves, got {self.size}")

    def group(self, g: int) -> tuple[EnclaveSlot, ...]:
        if not 0 <= g < self.groups:
            raise TopologyError(f"no signing group {g} (have {self.groups})")
        return tuple(EnclaveSlot(g, i, self.groups) for i in range(self.size))

    def slots(self) -> tuple[EnclaveSlot, ...]:
        return tuple(s for g in range(self.groups) for s in self.group(g))

    def resources(self) -> dict[str, float]:
        """Custom resources a single embedded node offers to host every enclave itself."""
        return {s.resource: 1.0 for s in self.slots()}
