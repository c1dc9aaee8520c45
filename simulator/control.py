"""Scenario control: what happens next in a running world, chosen from outside it.

When a vendor's POS software is under test, cardloop runs a reference server with
virtual devices and waits for the POS to connect. What happens next (which card is
presented, how the cardholder behaves, which fault hits the next crossing) is part of
the world, so it lives here, below the devices and servers that offer the knobs and
the suite and CLI that turn them. A server's knobs are :class:`ControlAction` objects
(its contract's ``Started.actions``); every world also offers the fault actions of
:func:`fault_actions`.

The control API (:mod:`simulator.ports.control_api`) puts a :class:`ControlRegistry` on
HTTP at 127.0.0.1 (OCPP test tools call its named scenarios "certification
scenarios"). Shape (JSON in, JSON out; errors are
``{"error": "..."}`` with a 4xx status)::

    GET  /                      -> {"server": NAME, "urls": {...}, "actions": {name: help},
                                    "scenarios": {name: {"title", "expect"}}}
    GET  /state                 -> {"pending": {action: [params...]}, "applied": [...],
                                    "server": {...} when the server shows its state}
    POST /scenario/<action>     body: params of the action -> {"ok": true, "applied": {...}}
    GET  /faults                -> {"faults": [{name, kind, port, direction, params, ...}]}
    POST /scenario/fault        add a named fault now; remove-fault {name}; clear-faults
    POST /play/<scenario>       a named certification scenario (the server's scenarios.toml)
    POST /reset                 -> forget pending scenario choices
    GET  /transcript            -> the run's transcript so far (JSON Lines, PANs masked)
    POST /shutdown              -> end the run; reports are written

Every action runs inside the world (``World.inject``), on the loop that drives it:
one thread, no locks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator import faults as port_faults

if TYPE_CHECKING:
    from simulator.world import World

Action = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class ControlError(ValueError):
    """A request the control API refuses (bad action, bad parameters): HTTP 400/404."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ControlAction:
    """A scenario knob of a running server: next card, cardholder behaviour, a fault.

    ``apply`` runs inside the world, takes the request's JSON parameters and returns
    what it did (or None). It raises ``ValueError`` (:class:`ControlError` for another
    status) for parameters it refuses; the control API answers 400.
    """

    name: str
    help: str
    apply: Action


@dataclass(frozen=True)
class Scenario:
    """A named certification scenario: actions applied in order."""

    name: str
    title: str
    expect: str
    steps: tuple[tuple[str, dict[str, Any]], ...]


def load_scenarios(server: str, text: str | None) -> dict[str, Scenario]:
    """The certification scenarios of ``server`` in a scenarios file's ``text``.

    The file holds ``[<server>.<name>]`` tables with ``title``, ``expect`` and
    ``steps = [{action = "...", params = {...}}, ...]``.
    """
    if not text:
        return {}
    raw = tomllib.loads(text).get(server, {})
    out: dict[str, Scenario] = {}
    for name, body in raw.items():
        steps = tuple((str(st["action"]), dict(st.get("params", {}))) for st in body["steps"])
        out[name] = Scenario(name, str(body["title"]), str(body["expect"]), steps)
    return out


@dataclass
class ControlRegistry:
    """Scenario actions a served reference server accepts, and what was chosen.

    Built-in bookkeeping: every action's parameters are queued under :attr:`pending`
    until someone takes them with :meth:`take`; what was applied is kept in
    :attr:`applied`.
    """

    server: str = ""
    urls: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ControlAction] = field(default_factory=dict)
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    applied: list[dict[str, Any]] = field(default_factory=list)
    shutdown: asyncio.Event | None = None
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    #: the running server's own view for ``GET /state`` (its contract's ``Started.state``)
    state: Callable[[], dict[str, Any]] | None = None

    def add(self, action: ControlAction) -> None:
        self.actions[action.name] = action

    def action(self, name: str, help: str, apply: Action | None = None) -> None:
        """Register ``name``; without ``apply`` the parameters are just queued."""
        self.add(ControlAction(name, help, apply or (lambda params: None)))

    def run(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        info = self.actions.get(name)
        if info is None:
            raise ControlError(f"unknown action {name!r}; known: {sorted(self.actions)}", 404)
        result = info.apply(params) or {}
        self.pending.setdefault(name, []).append(params)
        record = {"action": name, "params": params, **result}
        self.applied.append(record)
        return record

    def play(self, name: str) -> dict[str, Any]:
        """Apply certification scenario ``name``, step by step; refused before any step
        when the server lacks one of its actions."""
        sc = self.scenarios.get(name)
        if sc is None:
            raise ControlError(f"unknown scenario {name!r}; known: {sorted(self.scenarios)}", 404)
        missing = [a for a, _ in sc.steps if a not in self.actions]
        if missing:
            raise ControlError(f"scenario {name!r} needs actions this server lacks: {missing}")
        done = [self.run(action, dict(params)) for action, params in sc.steps]
        return {"scenario": name, "expect": sc.expect, "steps": done}

    def take(self, name: str) -> dict[str, Any] | None:
        """The oldest pending choice for ``name`` (the server consumes it), or None."""
        queue = self.pending.get(name)
        return queue.pop(0) if queue else None

    def reset(self) -> None:
        self.pending.clear()


# -- faults: every world offers them -------------------------------------------------
FAULT_KINDS: dict[str, type[port_faults.PortFault]] = {
    "drop": port_faults.Drop,
    "corrupt": port_faults.Corrupt,
    "duplicate": port_faults.Duplicate,
    "delay": port_faults.Delay,
    "latency": port_faults.Delay,  # Toxiproxy's name for the same thing
    "split": port_faults.Split,
    "stall": port_faults.Stall,
    "disconnect": port_faults.Disconnect,
}


@dataclass
class RuntimeFault:
    """A fault added to a running world: its name, what it is, and since when."""

    name: str
    kind: str
    params: dict[str, Any]
    fault: port_faults.PortFault
    added_at: float

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "port": self.fault.port,
                "direction": self.fault.direction, "params": self.params,
                "from": round(self.added_at, 6),
                "until": None if self.fault.stop == math.inf else round(self.fault.stop, 6)}


class RuntimeFaults:
    """Faults added, listed and removed while a server runs (Toxiproxy's toxics, on the
    world's ports: a serial line, a WebSocket, a TCP stream).

    Each fault has a name (given, or ``<kind>-<n>``) and is written to the transcript
    when it is added and when it is removed; each crossing it touches is noted by the
    fault itself. Removing a fault restores the line from that moment.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.active: dict[str, RuntimeFault] = {}
        self._count = 0

    def add(self, params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("kind")
        cls = FAULT_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ControlError(f"kind must be one of {sorted(FAULT_KINDS)}")
        assert isinstance(kind, str)
        names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        names -= {"start", "stop"}
        knobs = {k: v for k, v in params.items() if k not in ("kind", "for_s", "name")}
        unknown = set(knobs) - names
        if unknown:
            raise ControlError(f"unknown {kind} fields {sorted(unknown)}; known: {sorted(names)}")
        if "on" in knobs:
            knobs["on"] = tuple(int(i) for i in knobs["on"])
        self._count += 1
        name = params.get("name") or f"{kind}-{self._count}"
        if not isinstance(name, str) or name in self.active:
            raise ControlError(f"a fault named {name!r} is already active; remove it first")
        for_s = params.get("for_s")
        stop = math.inf if for_s is None else self.world.now + float(for_s)
        try:
            fault = cls(start=self.world.now, stop=stop, **knobs)
        except TypeError as exc:
            raise ControlError(f"bad {kind} fields: {exc}") from None
        self.world.faults.add(fault)
        shown = {k: v for k, v in params.items()
                 if k not in ("kind", "name", "port", "direction")}
        entry = RuntimeFault(name, kind, shown, fault, self.world.now)
        self.active[name] = entry
        self.world.transcript.event(
            "control", f"fault added: {name} ({kind} on {fault.port} {fault.direction}"
            + (f" {_knobs(shown)}" if shown else "") + ")")
        return entry.describe()

    def remove(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        entry = self.active.pop(name, None) if isinstance(name, str) else None
        if entry is None:
            raise ControlError(f"no active fault named {name!r}; active: {sorted(self.active)}",
                               404)
        if entry.fault in self.world.faults.faults:
            self.world.faults.faults.remove(entry.fault)
        self.world.transcript.event("control", f"fault removed: {entry.name} ({entry.kind})")
        return {"removed": entry.name}

    def listing(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The active faults, and the ports bytes have crossed so far (what a pattern
        can name)."""
        ports = sorted({e.port for e in self.world.transcript.entries if e.direction != "event"})
        return {"faults": [f.describe() for f in self.active.values()], "ports": ports}

    def clear(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        names = list(self.active)
        for name in names:
            self.remove({"name": name})
        return {"cleared": len(names), "removed": names}


def _knobs(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def fault_actions(world: World) -> list[ControlAction]:
    """``fault`` (add a named port fault from now on), ``faults`` (list the active ones),
    ``remove-fault`` (one, by name) and ``clear-faults`` (all of them).

    ``fault`` takes ``{"kind": "latency"|"drop"|"corrupt"|"stall"|"disconnect"|...,
    "name": ..., "port": "pinpad*", "direction": "tx"|"rx"|"*", "probability": 1.0,
    "on": [0, 1], "for_s": ..., ...}``: the fields of the fault's class in
    :mod:`simulator.faults`. ``start`` counts from now; a fault with no ``on``,
    ``probability`` or ``for_s`` hits every crossing of its port, which is allowed (a
    dead line) but rarely what a scenario means.
    """
    faults = RuntimeFaults(world)
    return [
        ControlAction("fault", "add a named port fault from now: {kind, name, port, "
                      "direction, probability, on, for_s, ...}", faults.add),
        ControlAction("faults", "list the faults added at runtime", faults.listing),
        ControlAction("remove-fault", "remove one fault added at runtime: {name}",
                      faults.remove),
        ControlAction("clear-faults", "remove every fault added at runtime", faults.clear),
    ]
