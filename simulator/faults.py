"""Port-level faults: what can go wrong between two ends of a link.

A :class:`FaultPlan` is a list of faults, each bound to a port name pattern
(``fnmatch``: ``"pinpad"``, ``"server#*"``) and a direction (``"tx"``: leaving the
named end, ``"rx"``: arriving at it, ``"*"``: both). Ends call
:meth:`FaultPlan.apply` on every chunk or message they send and receive; the plan
answers with what actually gets delivered, and when. Faults compose: each sees the
pieces the one before it produced.

Each fault fires by ``probability`` (drawn from ``world.rng(f"fault/{port}")``), on
a schedule of crossing indices (``on``, 0-based per port and direction), and only
inside the simulated-time window ``[start, stop)``. Every firing is written to the
transcript as an event (``fault: corrupt 1 bit(s) at offset 3``), so a failing run
shows what was done to it. The same seed and plan replay the same faults.

Note for in-memory links: a byte leaving end ``a`` arrives at end ``b``, so a fault
with ``port="*"`` and ``direction="*"`` meets every crossing twice. Name a port, or a
direction, to meet it once.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import random

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


def _rng(world: World, port: str) -> random.Random:
    return world.rng(f"fault/{port}")


def _size(data: Payload) -> int:
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)


def _kind(data: Payload) -> str:
    return "char" if isinstance(data, str) else "byte"


@dataclass(kw_only=True)
class PortFault:
    """What every fault shares: where it applies and when it fires.

    ``probability`` is drawn per crossing only when below 1, so adding a certain
    fault does not shift the random numbers other faults on the port see.
    """

    port: str = "*"
    direction: str = "*"
    probability: float = 1.0
    on: tuple[int, ...] | None = None
    start: float = 0.0
    stop: float = math.inf

    def fires(self, world: World, port: str, index: int) -> bool:
        if self.on is not None and index not in self.on:
            return False
        if not (self.start <= world.now < self.stop):
            return False
        if self.probability >= 1.0:
            return True
        if self.probability <= 0.0:
            return False
        return _rng(world, port).random() < self.probability

    def note(self, world: World, port: str, text: str) -> None:
        world.transcript.event(port, f"fault: {text}")

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if not self.fires(world, port, index):
            return Outcome([Delivery(data)])
        return self.hit(world, port, index, data)

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        raise NotImplementedError


@dataclass(kw_only=True)
class Drop(PortFault):
    """The chunk or message never arrives."""

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        self.note(world, port, f"drop {_size(data)} {_kind(data)}(s)")
        return Outcome([])


@dataclass(kw_only=True)
class Corrupt(PortFault):
    """Flip ``bits`` random bits (line noise).

    Text messages stay valid UTF-8, because a real WebSocket stack rejects invalid
    text at the frame layer before any server sees it: only the low seven bits of
    ASCII characters are flipped (a message with no ASCII character is left alone).
    """

    bits: int = 1

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        rng = _rng(world, port)
        if isinstance(data, str):
            chars = list(data)
            candidates = [i for i, c in enumerate(chars) if ord(c) < 128]
            if not candidates:
                return Outcome([Delivery(data)])
            offsets = []
            for _ in range(self.bits):
                i = rng.choice(candidates)
                chars[i] = chr(ord(chars[i]) ^ (1 << rng.randrange(7)))
                offsets.append(i)
            self.note(world, port, f"corrupt {self.bits} bit(s) at offset {_offsets(offsets)}")
            return Outcome([Delivery("".join(chars))])
        if not data:
            return Outcome([Delivery(data)])
        buf = bytearray(data)
        offsets = []
        for _ in range(self.bits):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
            offsets.append(i)
        self.note(world, port, f"corrupt {self.bits} bit(s) at offset {_offsets(offsets)}")
        return Outcome([Delivery(bytes(buf))])


def _offsets(offsets: list[int]) -> str:
    return ",".join(str(o) for o in sorted(set(offsets)))


@dataclass(kw_only=True)
class Duplicate(PortFault):
    """The chunk or message arrives twice, the copy ``gap`` seconds after the original."""

    gap: float = 0.0

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        self.note(world, port, f"duplicate {_size(data)} {_kind(data)}(s)")
        return Outcome([Delivery(data), Delivery(data, self.gap)])


@dataclass(kw_only=True)
class Delay(PortFault):
    """The chunk arrives ``seconds`` (plus up to ``jitter``) later.

    Ends keep order: later data queues behind a delayed chunk, as on a real line.
    """

    seconds: float = 0.1
    jitter: float = 0.0

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        extra = _rng(world, port).uniform(0.0, self.jitter) if self.jitter > 0 else 0.0
        delay = self.seconds + extra
        self.note(world, port, f"delay {_size(data)} {_kind(data)}(s) by {delay:.6f} s")
        return Outcome([Delivery(data, delay)])


@dataclass(kw_only=True)
class Split(PortFault):
    """The chunk arrives in ``pieces`` parts cut at random points, ``gap`` seconds apart."""

    pieces: int = 2
    gap: float = 0.0

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        n = len(data)
        parts = min(self.pieces, n)
        if parts < 2:
            return Outcome([Delivery(data)])
        cuts = sorted(_rng(world, port).sample(range(1, n), parts - 1))
        bounds = [0, *cuts, n]
        out = [
            Delivery(data[a:b], i * self.gap) for i, (a, b) in enumerate(itertools.pairwise(bounds))
        ]
        self.note(world, port, f"split {n} {_kind(data)}(s) into {parts} at {_offsets(cuts)}")
        return Outcome(out)


@dataclass(kw_only=True)
class Stall(PortFault):
    """The line stops for ``seconds``: this chunk and everything after it waits.

    Fired by probability or schedule, a stall starts at the crossing that triggers
    it; with ``start``/``stop`` and ``probability=1`` it holds everything crossing in
    that window until the window ends (``seconds`` is then ignored if ``stop`` is
    finite).
    """

    seconds: float = 1.0
    _until: dict[str, float] = field(default_factory=dict, repr=False)

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        until = self._until.get(port, -math.inf)
        if world.now < until:
            return Outcome([Delivery(data, until - world.now)])
        if not self.fires(world, port, index):
            return Outcome([Delivery(data)])
        return self.hit(world, port, index, data)

    def hit(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        end = self.stop if (self.stop != math.inf and self.on is None) else world.now + self.seconds
        self._until[port] = end
        self.note(world, port, f"stall until t={end:.6f}")
        return Outcome([Delivery(data, end - world.now)])


@dataclass(kw_only=True)
class Disconnect(PortFault):
    """The link goes away: after ``after_bytes`` bytes, after ``after_messages``
    chunks/messages, or at simulated time ``at`` (whichever is set).

    With ``after_bytes`` the chunk that crosses the limit is cut at it, so exactly
    that many bytes get through. With ``after_messages`` the N-th message still
    arrives and the link closes right after it. ``at`` closes the end at that time
    even if nothing is crossing (the plan arms it when the end is made). Without
    any of the three, the crossing that fires it (probability/schedule) is lost and
    the link closes.
    """

    after_bytes: int | None = None
    after_messages: int | None = None
    at: float | None = None
    _count: dict[str, int] = field(default_factory=dict, repr=False)
    _done: set[str] = field(default_factory=set, repr=False)

    def apply(self, world: World, port: str, index: int, data: Payload) -> Outcome:
        if port in self._done:
            return Outcome([], disconnect=True)
        if self.after_bytes is not None:
            seen = self._count.get(port, 0)
            size = _size(data)
            self._count[port] = seen + size
            if seen + size < self.after_bytes:
                return Outcome([Delivery(data)])
            keep = self.after_bytes - seen
            self._done.add(port)
            self.note(world, port, f"disconnect after {self.after_bytes} bytes")
            if isinstance(data, str):
                piece: Payload = data.encode("utf-8")[:keep].decode("utf-8", "ignore")
            else:
                piece = data[:keep]
            return Outcome([Delivery(piece)] if piece else [], disconnect=True)
        if self.after_messages is not None:
            seen = self._count.get(port, 0) + 1
            self._count[port] = seen
            if seen < self.after_messages:
                return Outcome([Delivery(data)])
            self._done.add(port)
            self.note(world, port, f"disconnect after {self.after_messages} message(s)")
            return Outcome([Delivery(data)], disconnect=True)
        if self.at is not None:
            if world.now >= self.at:
                self._done.add(port)
                self.note(world, port, f"disconnect at t={self.at:.6f}")
                return Outcome([], disconnect=True)
            return Outcome([Delivery(data)])
        if not self.fires(world, port, index):
            return Outcome([Delivery(data)])
        self._done.add(port)
        self.note(world, port, f"disconnect, {_size(data)} {_kind(data)}(s) lost")
        return Outcome([], disconnect=True)

    def arm(self, world: World, end: Any) -> None:
        """Close ``end`` at time ``at`` whether or not anything crosses."""
        if self.at is None or not fnmatch.fnmatchcase(end.name, self.port):
            return
        world.process(self._close_at(world, end))

    def _close_at(self, world: World, end: Any):  # type: ignore[no-untyped-def]
        yield world.timeout(max(0.0, self.at - world.now))  # type: ignore[operator]
        if end.is_closed or end.name in self._done:
            return
        self._done.add(end.name)
        self.note(world, end.name, f"disconnect at t={self.at:.6f}")
        end.close()


@dataclass
class FaultPlan:
    """Faults in the order they apply; each sees the output of the one before."""

    faults: list[Fault] = field(default_factory=list)
    _counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # weak, in creation order (arming order must not depend on memory addresses)
    _ends: list[weakref.ref[Any]] = field(default_factory=list, repr=False)

    def add(self, fault: Fault) -> FaultPlan:
        self.faults.append(fault)
        arm = getattr(fault, "arm", None)
        if arm is not None:
            for ref in self._ends:
                end = ref()
                if end is not None and not end.is_closed:
                    arm(end.world, end)
        return self

    def __bool__(self) -> bool:
        return bool(self.faults)

    def watch(self, end: Any) -> None:
        """Called by every end when it is made, so timed faults can reach it."""
        if len(self._ends) >= 256 and len(self._ends) % 256 == 0:
            self._ends = [r for r in self._ends if r() is not None]
        self._ends.append(weakref.ref(end))
        for fault in self.faults:
            arm = getattr(fault, "arm", None)
            if arm is not None:
                arm(end.world, end)

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
                for s in sub.deliveries:
                    pieces.append(Delivery(s.data, d.delay + s.delay))
                if sub.disconnect:
                    disconnect = True
                    break
            outcome = Outcome(pieces, disconnect)
            if outcome.disconnect and not isinstance(fault, PortFault):
                world.transcript.event(port, f"fault: {type(fault).__name__} disconnects")
        return outcome


__all__ = [
    "Corrupt",
    "Delay",
    "Delivery",
    "Disconnect",
    "Drop",
    "Duplicate",
    "Fault",
    "FaultPlan",
    "Outcome",
    "PortFault",
    "Split",
    "Stall",
]
