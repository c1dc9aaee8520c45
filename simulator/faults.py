"""Port-level faults: what can go wrong between two ends of a link.

A :class:`FaultPlan` is a list of faults, each bound to a port name pattern and a
direction. Ports call :meth:`FaultPlan.apply` on every chunk or message they carry;
the plan answers with what actually gets delivered, and when. All randomness comes
from the world's seeded stream for the port, so a plan replays exactly.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulator.world import World

Payload = bytes | str


@dataclass
class Delivery:
    """One piece to deliver ``delay`` simulated seconds from now."""

    data: Payload
    delay: float = 0.0


@dataclass
class Outcome:
    deliveries: list[Delivery]
    disconnect: bool = False


class Fault(Protocol):
    port: str
    direction: str

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome: ...


@dataclass
class FaultPlan:
    """Faults in the order they apply; each sees the output of the one before."""

    faults: list[Fault] = field(default_factory=list)
    _counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, fault: Fault) -> FaultPlan:
        self.faults.append(fault)
        return self

    def __bool__(self) -> bool:
        return bool(self.faults)

    def apply(self, world: World, port: str, direction: str, data: Payload) -> Outcome:
        key = (port, direction)
        index = self._counts.get(key, 0)
        self._counts[key] = index + 1
        outcome = Outcome([Delivery(data)])
        for fault in self.faults:
            if not fnmatch.fnmatchcase(port, fault.port):
                continue
            if fault.direction not in ("*", direction):
                continue
            pieces: list[Delivery] = []
            disconnect = outcome.disconnect
            for d in outcome.deliveries:
                sub = fault.apply(world, port, index, d.data)
                if sub.disconnect:
                    disconnect = True
                for s in sub.deliveries:
                    pieces.append(Delivery(s.data, d.delay + s.delay))
                if sub.disconnect:
                    break
            outcome = Outcome(pieces, disconnect)
            if outcome.disconnect:
                world.transcript.event(port, f"fault: {type(fault).__name__} disconnects")
        return outcome
