"""Serial line pacing: bytes leave one character time apart, as on a real UART.

A character on an asynchronous serial line is a start bit, the data bits, an
optional parity bit and the stop bits, so at 115200 baud with 8N1 (10 bits) a byte
takes 86.8 µs and the line carries 11520 bytes/s. :class:`Pacing` names the rate and
the frame format; :class:`PacedLine` sits between an end and whatever carries its
writes and hands bytes on at the simulated time their last stop bit ends.

In virtual mode every byte is its own event, so a receiver sees bytes arrive one by
one (and a slow reader can overrun a bounded buffer, see ``ByteEnd.rx_limit``). On
real ports in realtime mode, per-byte events would be far finer than the event loop
can time, so bytes are grouped into ``tick`` windows and each group goes out when
its last byte is due; the long-run rate is exact, the burst size is one tick.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.timings import load_timings

if TYPE_CHECKING:
    from simulator.world import World

_FORMAT = re.compile(r"^([5-9])([NEOMS])(1|1\.5|2)$", re.IGNORECASE)


@dataclass(frozen=True)
class FrameFormat:
    """Data bits, parity (N, E, O, M, S) and stop bits, e.g. ``8N1``, ``7E1``, ``8N2``."""

    data_bits: int = 8
    parity: str = "N"
    stop_bits: float = 1.0

    @classmethod
    def parse(cls, text: str) -> FrameFormat:
        m = _FORMAT.match(text.strip())
        if m is None:
            raise ValueError(
                f"bad serial frame format {text!r}; expected data bits 5-9, parity N/E/O/M/S "
                "and stop bits 1, 1.5 or 2, e.g. 8N1, 7E1, 8N2"
            )
        return cls(int(m.group(1)), m.group(2).upper(), float(m.group(3)))

    @property
    def bits_per_byte(self) -> float:
        """Start bit + data bits + parity bit (if any) + stop bits."""
        return 1 + self.data_bits + (0 if self.parity == "N" else 1) + self.stop_bits

    def __str__(self) -> str:
        stop = "1.5" if self.stop_bits == 1.5 else str(int(self.stop_bits))
        return f"{self.data_bits}{self.parity}{stop}"


@dataclass(frozen=True)
class Pacing:
    """A line rate: ``Pacing(115200, "8N1")``.

    ``tick`` (simulated seconds) groups bytes that fall due within one window; None
    picks per-byte delivery in virtual mode and the ``realtime_tick`` of
    ``pacing.toml`` (wall seconds, converted by the world's factor) in realtime mode.
    """

    baud: int
    frame: FrameFormat | str = "8N1"
    tick: float | None = None

    def __post_init__(self) -> None:
        if self.baud <= 0:
            raise ValueError("baud rate must be positive")
        if isinstance(self.frame, str):
            object.__setattr__(self, "frame", FrameFormat.parse(self.frame))

    @property
    def format(self) -> FrameFormat:
        assert isinstance(self.frame, FrameFormat)
        return self.frame

    @property
    def byte_time(self) -> float:
        """Seconds one character occupies the line."""
        return self.format.bits_per_byte / self.baud

    @property
    def bytes_per_second(self) -> float:
        return self.baud / self.format.bits_per_byte

    def duration(self, nbytes: int) -> float:
        """Seconds ``nbytes`` take on the line, back to back."""
        return nbytes * self.byte_time

    def tick_for(self, world: World) -> float:
        if self.tick is not None:
            return self.tick
        if world.mode == "virtual":
            return 0.0
        return _TIMINGS["realtime_tick"] / world.factor


_TIMINGS = load_timings("simulator", "pacing.toml")


class PacedLine:
    """The transmitting half of a serial line: a FIFO drained at the line rate.

    ``write`` never blocks (a UART transmit FIFO, unbounded here: the sender's
    driver queues). Closing waits until the bytes already on their way are out, so
    the peer sees them before end of stream.
    """

    def __init__(
        self,
        world: World,
        pacing: Pacing,
        transmit: Callable[[bytes], None],
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.world = world
        self.pacing = pacing
        self._transmit = transmit
        self._on_close = on_close
        self._free_at = 0.0
        self._queue: deque[tuple[float, bytes]] = deque()
        self._closing = False
        self._running = False
        self.bytes_sent = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        now = self.world.now
        start = max(now, self._free_at)
        bt = self.pacing.byte_time
        tick = self.pacing.tick_for(self.world)
        n = len(data)
        if tick <= 0:
            for i in range(n):
                self._queue.append((start + (i + 1) * bt, data[i : i + 1]))
        else:
            per = max(1, int(tick / bt))
            for i in range(0, n, per):
                j = min(n, i + per)
                self._queue.append((start + j * bt, data[i:j]))
        self._free_at = start + n * bt
        if not self._running:
            self._running = True
            self.world.process(self._run())

    def _run(self):  # type: ignore[no-untyped-def]
        queue = self._queue
        while queue:
            due, chunk = queue[0]
            wait = due - self.world.now
            if wait > 0:
                yield self.world.timeout(wait)
            queue.popleft()
            self.bytes_sent += len(chunk)
            self._transmit(chunk)
        self._running = False
        if self._closing:
            self._finish_close()

    def close(self) -> None:
        self._closing = True
        if not self._running:
            self._finish_close()

    def _finish_close(self) -> None:
        if self._on_close is not None:
            cb, self._on_close = self._on_close, None
            cb()
