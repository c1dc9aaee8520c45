"""Stream ends: how SimPy processes send and receive bytes and messages.

Device and server code only ever sees an *end*:

* :class:`ByteEnd` for byte streams (a serial line, a TCP connection);
* :class:`MessageEnd` for message streams (a WebSocket connection).

``write``/``send`` never block; ``read``/``recv`` return a SimPy event whose value
is the next chunk (all bytes buffered so far) or message. End of stream is ``b""``
for bytes and ``None`` for messages, and :attr:`closed` fires.

An end's peer may be another end in the same world (:func:`byte_link`,
:func:`message_link`, virtual mode) or a real pty or socket (``simulator.ports``),
which feeds :meth:`deliver` from the asyncio loop through ``World.inject``.
Every crossing is written to the world's transcript, and passes the world's fault
plan on the way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import simpy

from simulator.faults import Delivery

if TYPE_CHECKING:
    from simulator.world import World

T = TypeVar("T")
Labeler = Callable[[Any], str]


class _End(Generic[T]):
    """Common machinery: an inbox of items, an EOF marker, a transmit hook."""

    _eof: Any = None

    def __init__(self, world: World, name: str, labeler: Labeler | None = None) -> None:
        self.world = world
        self.name = name
        self.labeler = labeler
        self._inbox: deque[T] = deque()
        self._getters: deque[simpy.Event] = deque()
        self._at_eof = False
        self.closed: simpy.Event = world.event()
        self._transmit: Callable[[T], None] | None = None
        self._on_close: Callable[[], None] | None = None

    # -- receiving ----------------------------------------------------------------
    def deliver(self, item: T) -> None:
        """Called by the peer or the port: ``item`` has arrived at this end."""
        if self._at_eof:
            return
        self.world.transcript.record(self.name, "rx", self._raw(item), self._label(item))
        self._push(item)

    def _push(self, item: T) -> None:
        if self._getters:
            self._getters.popleft().succeed(self._take_with(item))
        else:
            self._inbox.append(item)

    def _take_with(self, item: T) -> T:
        return item

    def deliver_eof(self) -> None:
        """The other side went away."""
        if self._at_eof:
            return
        self._at_eof = True
        self.world.transcript.event(self.name, "closed by peer")
        while self._getters:
            self._getters.popleft().succeed(self._eof)
        if not self.closed.triggered:
            self.closed.succeed()

    def pending(self) -> int:
        return len(self._inbox)

    # -- sending ------------------------------------------------------------------
    def _send(self, item: T) -> None:
        if self._at_eof or self._transmit is None:
            self.world.transcript.event(self.name, "write after close dropped")
            return
        self.world.transcript.record(self.name, "tx", self._raw(item), self._label(item))
        plan = self.world.faults
        if not plan:
            self._transmit(item)
            return
        outcome = plan.apply(self.world, self.name, "tx", item)  # type: ignore[arg-type]
        for d in outcome.deliveries:
            self._schedule(d)
        if outcome.disconnect:
            self.world.process(self._disconnect_after(max((d.delay for d in outcome.deliveries), default=0.0)))

    def _schedule(self, d: Delivery) -> None:
        if d.delay <= 0:
            assert self._transmit is not None
            self._transmit(d.data)  # type: ignore[arg-type]
        else:
            self.world.process(self._later(d))

    def _later(self, d: Delivery):  # type: ignore[no-untyped-def]
        yield self.world.timeout(d.delay)
        if self._transmit is not None and not self._at_eof:
            self._transmit(d.data)  # type: ignore[arg-type]

    def _disconnect_after(self, delay: float):  # type: ignore[no-untyped-def]
        if delay > 0:
            yield self.world.timeout(delay)
        else:
            yield self.world.timeout(0)
        self.close()

    def close(self) -> None:
        """Close this end; the peer sees end of stream."""
        if self._at_eof and self.closed.triggered:
            return
        self._at_eof = True
        self.world.transcript.event(self.name, "closed")
        while self._getters:
            self._getters.popleft().succeed(self._eof)
        if not self.closed.triggered:
            self.closed.succeed()
        if self._on_close is not None:
            cb, self._on_close = self._on_close, None
            cb()

    @property
    def is_closed(self) -> bool:
        return self._at_eof

    # -- hooks for subclasses -----------------------------------------------------
    def _raw(self, item: T) -> bytes | str | None:
        return item  # type: ignore[return-value]

    def _label(self, item: T) -> str:
        return self.labeler(item) if self.labeler is not None else ""

    def connect(self, transmit: Callable[[T], None], on_close: Callable[[], None] | None = None) -> None:
        """Attach this end to whatever carries its writes (a peer end or a real port)."""
        self._transmit = transmit
        self._on_close = on_close


class ByteEnd(_End[bytes]):
    """One end of a byte stream. ``read()`` yields every byte buffered so far."""

    _eof = b""

    def write(self, data: bytes) -> None:
        if data:
            self._send(bytes(data))

    def read(self) -> simpy.Event:
        ev = self.world.event()
        if self._inbox:
            ev.succeed(self._drain())
        elif self._at_eof:
            ev.succeed(b"")
        else:
            self._getters.append(ev)
        return ev

    def _drain(self) -> bytes:
        data = b"".join(self._inbox)
        self._inbox.clear()
        return data

    def discard_input(self) -> int:
        """Throw away buffered input (a resynchronising receiver); returns the count."""
        n = sum(len(c) for c in self._inbox)
        self._inbox.clear()
        return n


class MessageEnd(_End[str | bytes]):
    """One end of a message stream (WebSocket-like). ``recv()`` yields one message."""

    _eof = None

    def send(self, message: str | bytes) -> None:
        self._send(message)

    def recv(self) -> simpy.Event:
        ev = self.world.event()
        if self._inbox:
            ev.succeed(self._inbox.popleft())
        elif self._at_eof:
            ev.succeed(None)
        else:
            self._getters.append(ev)
        return ev


def byte_link(
    world: World,
    a: str,
    b: str,
    labeler: Labeler | None = None,
) -> tuple[ByteEnd, ByteEnd]:
    """Two byte ends wired to each other inside the world (virtual mode)."""
    end_a = ByteEnd(world, a, labeler)
    end_b = ByteEnd(world, b, labeler)
    _wire(end_a, end_b)
    return end_a, end_b


def message_link(
    world: World,
    a: str,
    b: str,
    labeler: Labeler | None = None,
) -> tuple[MessageEnd, MessageEnd]:
    """Two message ends wired to each other inside the world (virtual mode)."""
    end_a = MessageEnd(world, a, labeler)
    end_b = MessageEnd(world, b, labeler)
    _wire(end_a, end_b)
    return end_a, end_b


def _wire(x: _End[Any], y: _End[Any]) -> None:
    # the receiving side records "rx" itself; delivery is at the same simulated instant
    x.connect(y.deliver, y.deliver_eof)
    y.connect(x.deliver, x.deliver_eof)
