"""The world: one SimPy clock that every device, server and client waits on.

A :class:`World` owns the simulation environment, the seeded random streams, the
transcript and the fault plan. Device and server code is written once as SimPy
processes; the same code runs in two clock modes:

``virtual``
    No real I/O. Simulated time jumps from event to event, so a run is as fast as the
    CPU allows and is reproducible from its seed.

``realtime``
    An asyncio task (:meth:`World.run_realtime`) advances SimPy in step with the wall
    clock, ``factor`` wall seconds per simulated second. Bytes that arrive from a pty
    or a socket are handed to the world with :meth:`World.inject`, which stamps them
    with the current simulated time. Everything stays on one thread, so no locks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import typing
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from simulator import log_redaction
from simulator.faults import FaultPlan
from simulator.masking import Redactor
from simulator.timings import load_timings
from simulator.transcript import Transcript

Mode = Literal["virtual", "realtime"]
_REALTIME = load_timings("simulator", "realtime.toml")
_BATCH = 64  # due events run per loop turn in realtime mode (see run_realtime)
_LOG = logging.getLogger("cardloop.world")
ProcessGenerator = Generator[simpy.Event, Any, Any]


class SimEnvironment(simpy.Environment):
    """A SimPy environment whose clock the realtime driver may move forward.

    SimPy only moves time when it pops an event. In realtime mode, bytes arrive
    between events; to stamp them with the wall-clock-derived simulated time, the
    driver moves ``now`` forward, never past the next scheduled event, so event
    order is preserved.
    """

    def advance_to(self, t: float) -> None:
        if t <= self._now:
            return
        nxt = self.peek()
        self._now = min(t, nxt)


@dataclass
class Lateness:
    """How late simulated events fired against their wall-clock deadline."""

    samples_ms: list[float] = field(default_factory=list)
    limit: int = 200_000
    behind_threshold_ms: float = 50.0
    behind_events: int = 0

    def record(self, late_s: float) -> None:
        ms = max(0.0, late_s * 1000.0)
        if ms > self.behind_threshold_ms:
            self.behind_events += 1
        if len(self.samples_ms) < self.limit:
            self.samples_ms.append(ms)

    def percentile(self, p: float) -> float:
        if not self.samples_ms:
            return 0.0
        data = sorted(self.samples_ms)
        k = max(0, min(len(data) - 1, math.ceil(p / 100.0 * len(data)) - 1))
        return data[k]

    def summary(self) -> dict[str, float | int]:
        return {
            "events": len(self.samples_ms),
            "p50_ms": round(self.percentile(50), 3),
            "p99_ms": round(self.percentile(99), 3),
            "max_ms": round(max(self.samples_ms, default=0.0), 3),
            "behind_events": self.behind_events,
        }

    @property
    def keeping_up(self) -> bool:
        """False once any event fired more than ``behind_threshold_ms`` late."""
        return self.behind_events == 0


class World:
    """The simulated world: clock, random streams, transcript, fault plan.

    Parameters
    ----------
    seed:
        Every random choice in the world derives from it (see :meth:`rng`).
    mode:
        ``"virtual"`` or ``"realtime"``.
    factor:
        Realtime only: wall seconds per simulated second (1.0 = real time,
        0.05 = twenty times faster than real time).
    """

    def __init__(
        self,
        seed: int = 0,
        mode: Mode = "virtual",
        factor: float = 1.0,
        transcript: Transcript | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        if mode not in ("virtual", "realtime"):
            raise ValueError(f"unknown clock mode {mode!r}; use 'virtual' or 'realtime'")
        if factor <= 0:
            raise ValueError("realtime factor must be positive")
        self.seed = seed
        self.mode: Mode = mode
        self.factor = factor
        self.env = SimEnvironment()
        self.redactor = Redactor()
        log_redaction.watch(self.redactor)  # log records, warnings, tracebacks too
        self.transcript = transcript if transcript is not None else Transcript()
        self.transcript.bind(self)
        self.faults = faults if faults is not None else FaultPlan()
        self.lateness = Lateness()
        self._streams: dict[str, random.Random] = {}
        self._wall0: float | None = None
        self._sim0 = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._crashed: BaseException | None = None
        #: processes that ended with an exception nobody waited for (realtime mode)
        self.process_failures = 0

    # -- randomness -------------------------------------------------------------
    def rng(self, name: str) -> random.Random:
        """A random stream for one named component, derived from the seed.

        Components draw from their own stream so that adding a draw in one place does
        not shift the numbers every other component sees.
        """
        stream = self._streams.get(name)
        if stream is None:
            stream = random.Random(f"{self.seed}/{name}")
            self._streams[name] = stream
        return stream

    # -- SimPy shorthands --------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.env.now)

    def process(self, generator: ProcessGenerator) -> simpy.Process:
        return self.env.process(generator)

    def timeout(self, seconds: float, value: Any = None) -> simpy.Timeout:
        return self.env.timeout(seconds, value)

    def event(self) -> simpy.Event:
        return self.env.event()

    def any_of(self, events: list[simpy.Event]) -> simpy.AnyOf:
        return simpy.AnyOf(self.env, events)

    # -- running -----------------------------------------------------------------
    def run(self, until: float | simpy.Event | None = None) -> Any:
        """Run in virtual mode until ``until`` (a time or an event) or no events remain."""
        if self.mode != "virtual":
            raise RuntimeError("World.run is for virtual mode; use await run_realtime()")
        return self.env.run(until=until)

    def wall_to_sim(self, wall: float) -> float:
        if self._wall0 is None:
            return self.now
        return self._sim0 + (wall - self._wall0) / self.factor

    def sim_to_wall(self, sim: float) -> float:
        assert self._wall0 is not None
        return self._wall0 + (sim - self._sim0) * self.factor

    @property
    def running_realtime(self) -> bool:
        return self._loop is not None

    def inject(self, action: Callable[[], object]) -> None:
        """Run ``action`` inside the world at the current wall-derived simulated time.

        Ports call this from asyncio callbacks when bytes or messages arrive. In
        virtual mode (or before the driver started) the action runs at ``now``.
        """
        if self._loop is not None and self._wall0 is not None:
            self.env.advance_to(self.wall_to_sim(self._loop.time()))
        action()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fire_waiter(self) -> None:
        self._wake()

    async def run_realtime(self, until: float | simpy.Event | None = None) -> Any:
        """Advance the world in step with the wall clock until ``until``.

        ``until`` is a simulated time, an event, or None for "until cancelled".
        Records how late each event fired (:attr:`lateness`).
        """
        if self.mode != "realtime":
            raise RuntimeError("run_realtime needs a world made with mode='realtime'")
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self._wall0 is None:
            self._wall0 = loop.time()
            self._sim0 = self.now
        else:
            # resume: re-anchor so that a pause between runs is not counted as lateness
            self._wall0 = loop.time()
            self._sim0 = self.now
        stop_at = math.inf
        stop_event: simpy.Event | None = None
        if isinstance(until, simpy.Event):
            stop_event = until
        elif until is not None:
            stop_at = float(until)
        # Events that are due run back to back, but never more than ``_BATCH`` of them
        # without handing the loop a turn: a busy world must not starve the ports
        # whose bytes it is waiting for (their callbacks only run when we await).
        batch = 0
        spin = _REALTIME["spin"]
        try:
            while True:
                if stop_event is not None and stop_event.processed:
                    if not stop_event.ok:
                        raise typing.cast(BaseException, stop_event.value)
                    return stop_event.value
                nxt = self.env.peek()
                target = min(nxt, stop_at)
                if target == math.inf:
                    batch = 0
                    await self._wait(None)
                    continue
                deadline = self.sim_to_wall(target)
                delay = deadline - loop.time()
                if delay > 0:
                    batch = 0
                    if delay > spin:
                        # sleep until just before the deadline (or an injected input)
                        await self._wait(delay - spin)
                    else:
                        # the last stretch: poll the loop without blocking, so ports stay
                        # served and the event fires within microseconds of its deadline
                        await asyncio.sleep(0)
                    continue
                if nxt > stop_at:
                    self.env.advance_to(stop_at)
                    return None
                self.lateness.record(loop.time() - deadline)
                self._step_contained()
                batch += 1
                if batch >= _BATCH:
                    batch = 0
                    await asyncio.sleep(0)
        finally:
            self._loop = None
            self._waiter = None

    def _step_contained(self) -> None:
        """One SimPy step; a process that died of an exception ends alone.

        SimPy raises a failed process's exception out of ``step`` after every waiter has
        been told, so the world itself is intact: the failure is logged with its
        traceback and written to the transcript, and the world goes on serving every
        other connection. (Servers answer their own failures before they get here; this
        is the last line.) Virtual mode keeps SimPy's behaviour, so tests see bugs.
        """
        try:
            self.env.step()
        except Exception as exc:  # noqa: BLE001 - one process's failure is not the world's
            self.process_failures += 1
            _LOG.error("a world process failed at t=%.3f", self.now, exc_info=exc)
            self.transcript.event("world", f"process failed: {exc!r}")

    async def _wait(self, delay: float | None) -> bool:
        """Wait for ``delay`` wall seconds or an injected input; True if woken early."""
        assert self._loop is not None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiter = waiter
        handle = None
        if delay is not None:
            handle = self._loop.call_later(delay, self._timer_fired, waiter)
        try:
            await waiter
        finally:
            if handle is not None:
                handle.cancel()
            self._waiter = None
        return not getattr(waiter, "_cardloop_timer", False)

    @staticmethod
    def _timer_fired(waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter._cardloop_timer = True  # type: ignore[attr-defined]
            waiter.set_result(None)
