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
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import simpy

from simulator.faults import Delivery, Outcome

if TYPE_CHECKING:
    from simulator.world import World

T = TypeVar("T")
_CLOSE = object()  # queued after delayed pieces when a fault disconnects
Labeler = Callable[[Any], str]


class PureLabeler:
    """A labeler whose label depends on nothing but the item (a decoder of the bytes).

    The transcript then makes the label only when someone reads the entry, which most
    of a virtual run's entries never are; called directly it labels at once.
    """

    __slots__ = ("label",)

    def __init__(self, label: Labeler) -> None:
        self.label = label

    def __call__(self, item: Any) -> str:
        return self.label(item)

    def deferred(self, item: Any) -> Callable[[], str]:
        return partial(self.label, item)


class _End(Generic[T]):
    """Common machinery: an inbox of items, an EOF marker, a transmit hook.

    Both ways through an end pass the world's fault plan: ``tx`` when the end
    writes, ``rx`` when something arrives. Pieces a fault delays are queued per
    direction so that an end never reorders its stream: later data waits behind a
    delayed piece, as on a real line.
    """

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
        self._lanes: dict[str, deque[tuple[float, Any]]] = {"tx": deque(), "rx": deque()}
        world.faults.watch(self)

    # -- receiving ----------------------------------------------------------------
    def deliver(self, item: T) -> None:
        """Called by the peer or the port: ``item`` has arrived at this end."""
        if self._at_eof:
            return
        plan = self.world.faults
        if not plan:
            self._arrive(item)
            return
        self._dispatch("rx", plan.apply(self.world, self.name, "rx", item))  # type: ignore[arg-type]

    def _arrive(self, item: T) -> None:
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
        if not plan and not self._lanes["tx"]:
            self._transmit(item)
            return
        if not plan:
            self._dispatch("tx", Outcome([Delivery(item)]))  # type: ignore[arg-type]
            return
        self._dispatch("tx", plan.apply(self.world, self.name, "tx", item))  # type: ignore[arg-type]

    def _dispatch(self, lane: str, outcome: Outcome) -> None:
        """Hand pieces on now or later, in order; then close if the fault said so."""
        queue = self._lanes[lane]
        now = self.world.now
        last = queue[-1][0] if queue else now
        for d in outcome.deliveries:
            due = max(now + d.delay, last)
            last = due
            if not queue and due <= now:
                self._sink(lane, d.data)
            else:
                self._enqueue(queue, lane, due, d.data)
        if outcome.disconnect:
            self._enqueue(queue, lane, last, _CLOSE)

    def _enqueue(self, queue: deque[tuple[float, Any]], lane: str, due: float, item: Any) -> None:
        queue.append((due, item))
        if len(queue) == 1:
            self.world.process(self._run_lane(lane))

    def _run_lane(self, lane: str):  # type: ignore[no-untyped-def]
        queue = self._lanes[lane]
        while queue:
            due, item = queue[0]
            wait = due - self.world.now
            # a zero wait still yields, so a disconnect lands after same-instant data
            yield self.world.timeout(max(0.0, wait))
            queue.popleft()
            self._sink(lane, item)

    def _sink(self, lane: str, item: Any) -> None:
        if item is _CLOSE:
            self.close()
        elif lane == "rx":
            self._arrive(item)
        elif self._transmit is not None and not self._at_eof:
            self._transmit(item)

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

    def _label(self, item: T) -> str | Callable[[], str]:
        labeler = self.labeler
        if labeler is None:
            return ""
        # a labeler that can defer its work (decoding, decrypting) leaves it to the
        # transcript, which asks only when the entry is read
        deferred = getattr(labeler, "deferred", None)
        return deferred(item) if deferred is not None else labeler(item)

    def connect(
        self, transmit: Callable[[T], None], on_close: Callable[[], None] | None = None
    ) -> None:
        """Attach this end to whatever carries its writes (a peer end or a real port)."""
        self._transmit = transmit
        self._on_close = on_close


class ByteEnd(_End[bytes]):
    """One end of a byte stream. ``read()`` yields every byte buffered so far.

    ``rx_limit`` bounds the receive buffer like a UART FIFO: bytes that arrive while
    it is full are lost, :attr:`overruns` counts the events, :attr:`bytes_lost` the
    bytes, and each overrun is written to the transcript. None (the default) means
    unbounded, as for a socket.
    """

    _eof = b""

    def __init__(
        self,
        world: World,
        name: str,
        labeler: Labeler | None = None,
        rx_limit: int | None = None,
    ) -> None:
        super().__init__(world, name, labeler)
        if rx_limit is not None and rx_limit < 1:
            raise ValueError("rx_limit must be at least 1 byte")
        self.rx_limit = rx_limit
        self.overruns = 0
        self.bytes_lost = 0
        self.pacing: Any = None

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

    def _push(self, item: bytes) -> None:
        limit = self.rx_limit
        if limit is not None and not self._getters:
            room = limit - sum(len(c) for c in self._inbox)
            if len(item) > room:
                lost = len(item) - max(room, 0)
                self.overruns += 1
                self.bytes_lost += lost
                self.world.transcript.event(
                    self.name, f"overrun: {lost} byte(s) lost, receive buffer of {limit} full"
                )
                item = item[: max(room, 0)]
                if not item:
                    return
        elif limit is not None and len(item) > limit:
            # a reader is waiting, but a UART still holds at most ``limit`` bytes
            lost = len(item) - limit
            self.overruns += 1
            self.bytes_lost += lost
            self.world.transcript.event(
                self.name, f"overrun: {lost} byte(s) lost, receive buffer of {limit} full"
            )
            item = item[:limit]
        super()._push(item)

    def pace(self, pacing: Any) -> None:
        """Send through a serial line model (:class:`simulator.pacing.Pacing`).

        Call after the end is connected; writes then leave one byte time apart.
        """
        from simulator.pacing import PacedLine

        if self._transmit is None:
            raise RuntimeError("connect the end before pacing it")
        line = PacedLine(self.world, pacing, self._transmit, self._on_close)
        self.pacing = pacing
        self._transmit = line.write
        self._on_close = line.close if self._on_close is not None else None

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
    *,
    pacing: Any = None,
    rx_limit: int | None = None,
) -> tuple[ByteEnd, ByteEnd]:
    """Two byte ends wired to each other inside the world (virtual mode).

    ``pacing`` (a :class:`simulator.pacing.Pacing`) makes both directions a serial
    line at that baud rate and frame format; ``rx_limit`` bounds both receive
    buffers (see :class:`ByteEnd`).
    """
    end_a = ByteEnd(world, a, labeler, rx_limit=rx_limit)
    end_b = ByteEnd(world, b, labeler, rx_limit=rx_limit)
    _wire(end_a, end_b)
    if pacing is not None:
        end_a.pace(pacing)
        end_b.pace(pacing)
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
