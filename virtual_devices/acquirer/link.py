"""The terminal's line to the acquirer host, where money is lost in real life.

An online authorisation is a request that travels, a decision the host books when the
request arrives, and an answer that travels back. Any of the three can go wrong, and
the dangerous case is the one where the host booked and the terminal never heard: the
charge stands at the acquirer while the POS is told it failed. Real terminals close that
gap with a *timeout reversal*: when no answer comes within the host timeout, they send
a reversal for the request they made (identified by its key, since they never learned
the host's reference), and ignore any answer that arrives after it.

:class:`HostLink` does exactly that on the world clock, and carries the back-end faults
of the conformance catalogue (``backend.*``): the host slow, silent, down, answering
twice, or answering after the reversal went out. Whatever the fault, the acquirer's
books end equal to what the terminal believes.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from simulator.timings import load_timings

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.acquirer.host import AcquirerHost
    from virtual_devices.emv.kernel.messages import AuthRequest

Gen = Generator[simpy.Event, Any, Any]
MODES = ("none", "slow", "silent", "down", "twice", "late")
TIMINGS = load_timings("virtual_devices.acquirer")


@dataclass(frozen=True)
class HostFault:
    """What the line to the host does to the next authorisations.

    ``slow``: the answer comes ``delay`` seconds late but inside the timeout.
    ``silent``: the host books but its answer never comes. ``down``: the connection is
    refused; nothing reaches the host. ``twice``: the answer comes, then a copy of it.
    ``late``: the answer comes ``delay`` seconds after the terminal's timeout, when the
    reversal has already gone out.
    """

    mode: str = "none"
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"host fault mode must be one of {MODES}, not {self.mode!r}")


HEALTHY = HostFault()
# The back-end fault in place for every terminal of a world, whatever server it serves:
# the conformance cases set it (:func:`set_line_fault`) and every host path reads it
# (:func:`line_fault`) -- the terminal application's authorise, the PayServer reader's
# line, the merchant API's line to the acquirer.
_LINE_FAULTS: weakref.WeakKeyDictionary[Any, HostFault] = weakref.WeakKeyDictionary()


def set_line_fault(world: World, fault: HostFault | None) -> None:
    """Put ``fault`` on the line from every terminal of ``world`` to its acquirer host
    (None or a ``"none"`` fault heals it)."""
    if fault is None or fault.mode == "none":
        _LINE_FAULTS.pop(world, None)
    else:
        _LINE_FAULTS[world] = fault
        world.transcript.event("acquirer-line", f"fault: backend.{fault.mode} "
                               f"(delay {fault.delay:g} s) on the line to the acquirer")


def line_fault(world: World) -> HostFault:
    """The back-end fault on ``world``'s line to the acquirer (``none`` when healthy)."""
    return _LINE_FAULTS.get(world, HEALTHY)


class HostLink:
    """One terminal's authorisations over a line with its own timeout and reversal.

    ``fault`` None takes the world's line fault (:func:`line_fault`) at each request, so
    a fault put in place mid-run reaches a terminal made before it.
    """

    def __init__(self, world: World, host: AcquirerHost, fault: HostFault | None = None,
                 roundtrip: float | None = None, name: str = "acquirer") -> None:
        self.world = world
        self.host = host
        self._fault = fault
        self.roundtrip = TIMINGS["host_roundtrip"] if roundtrip is None else roundtrip
        self.timeout = TIMINGS["host_response_timeout"]
        self.name = name
        self.timeout_reversals = 0
        self.ignored_answers = 0

    @property
    def fault(self) -> HostFault:
        return self._fault if self._fault is not None else line_fault(self.world)

    @fault.setter
    def fault(self, fault: HostFault | None) -> None:
        self._fault = fault

    def authorise(self, request: AuthRequest, kind: str, key: str) -> Gen:
        """The host's answer, or None when none came in time (then already reversed)."""
        world, fault = self.world, self.fault
        if fault.mode == "down":
            yield world.timeout(TIMINGS["host_connect_refused"])
            world.transcript.event(self.name, "fault: backend.down: connection refused")
            return None
        yield world.timeout(self.roundtrip / 2)  # the request travels
        response = self.host.authorise(request, kind=kind, key=key)  # booked on arrival
        back = self.roundtrip / 2
        if fault.mode == "slow":
            back += fault.delay
        elif fault.mode == "late":
            back = self.timeout + fault.delay
        answer: simpy.Event = world.event() if fault.mode == "silent" else world.timeout(back)
        limit = world.timeout(max(0.0, self.timeout - self.roundtrip / 2))
        yield world.any_of([answer, limit])
        if answer.processed:  # (a Timeout counts as triggered from the moment it is made)
            if fault.mode == "twice":
                world.process(self._ignored(back, key, "a second copy of the answer"))
            return response
        world.transcript.event(self.name, f"no answer within {self.timeout:g} s: "
                               "timeout reversal")
        self.reverse_unanswered(key)
        if fault.mode == "late":
            world.process(self._ignored(back - self.timeout, key, "an answer after the reversal"))
        elif fault.mode == "silent":
            world.transcript.event(self.name, "fault: backend.silent: the answer never came")
        return None

    def reverse_unanswered(self, key: str) -> None:
        """Reverse whatever the unanswered request booked (the host finds it by key)."""
        self.timeout_reversals += 1
        entry = self.host.ledger.by_key(key)
        if entry is not None and entry.approved and not entry.reversed:
            self.host.reverse(entry.ref, key=f"timeout-reversal-{key}")

    def _ignored(self, after: float, key: str, what: str) -> Gen:
        yield self.world.timeout(max(0.0, after))
        self.ignored_answers += 1
        self.world.transcript.event(self.name, f"{what} for {key} arrived and was ignored")
