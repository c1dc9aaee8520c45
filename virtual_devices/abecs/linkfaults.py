"""Faults on an ABECS serial line, for :class:`simulator.faults.FaultPlan`.

Each fault picks the chunks it hits by their index on the port (``hits``), so a
Hypothesis strategy can place faults anywhere in a conversation and a failing case
replays exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simulator.faults import Delivery, Outcome, Payload

if TYPE_CHECKING:
    from simulator.world import World


def _hit(hits: frozenset[int], index: int) -> bool:
    return index in hits


@dataclass
class CorruptByte:
    """Flip bits of one byte in the chunks whose index is in ``hits``."""

    port: str
    hits: frozenset[int]
    direction: str = "tx"
    offset: int = 1
    mask: int = 0x40
    applied: list[int] = field(default_factory=list)

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if not _hit(self.hits, index) or not isinstance(data, bytes) or not data:
            return Outcome([Delivery(data)])
        i = self.offset % len(data)
        out = bytearray(data)
        out[i] ^= self.mask
        self.applied.append(index)
        world.transcript.event(port, f"fault: byte {i} of chunk {index} corrupted")
        return Outcome([Delivery(bytes(out))])


@dataclass
class DropChunk:
    """Lose the chunks whose index is in ``hits`` (a lost ACK, a lost packet)."""

    port: str
    hits: frozenset[int]
    direction: str = "tx"
    applied: list[int] = field(default_factory=list)

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if not _hit(self.hits, index):
            return Outcome([Delivery(data)])
        self.applied.append(index)
        world.transcript.event(port, f"fault: chunk {index} lost")
        return Outcome([])


@dataclass
class Delay:
    """Deliver the chunks whose index is in ``hits`` ``seconds`` late (a slow peer)."""

    port: str
    hits: frozenset[int]
    seconds: float
    direction: str = "tx"

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if not _hit(self.hits, index):
            return Outcome([Delivery(data)])
        return Outcome([Delivery(data, self.seconds)])


@dataclass
class Noise:
    """Put line noise (bytes that are not SYN or control bytes) before a chunk."""

    port: str
    hits: frozenset[int]
    noise: bytes = b"\x00\xff\x41\x7f"
    direction: str = "tx"

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if not _hit(self.hits, index) or not isinstance(data, bytes):
            return Outcome([Delivery(data)])
        return Outcome([Delivery(self.noise + data)])
