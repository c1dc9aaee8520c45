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
    "split": port_faults.Split,
    "stall": port_faults.Stall,
    "disconnect": port_faults.Disconnect,
}


def fault_actions(world: World) -> list[ControlAction]:
    """``fault`` (add a port fault from now on) and ``clear-faults`` (remove those added).

    ``fault`` takes ``{"kind": "drop"|"corrupt"|..., "port": "pinpad*", "direction":
    "tx"|"rx"|"*", "probability": 1.0, "on": [0, 1], "seconds": ..., ...}``: the fields of
    the fault's class in :mod:`simulator.faults`. ``start`` counts from now; a fault with
    no ``on``, ``probability`` or ``for_s`` would hit every crossing of its port, which
    is allowed (a dead line) but rarely what a scenario means.
    """
    added: list[port_faults.PortFault] = []

    def add_fault(params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("kind")
        cls = FAULT_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ControlError(f"kind must be one of {sorted(FAULT_KINDS)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"start", "stop"}
        knobs = {k: v for k, v in params.items() if k not in ("kind", "for_s")}
        unknown = set(knobs) - names
        if unknown:
            raise ControlError(f"unknown {kind} fields {sorted(unknown)}; known: {sorted(names)}")
        if "on" in knobs:
            knobs["on"] = tuple(int(i) for i in knobs["on"])
        for_s = params.get("for_s")
        stop = math.inf if for_s is None else world.now + float(for_s)
        fault = cls(start=world.now, stop=stop, **knobs)
        world.faults.add(fault)
        added.append(fault)
        return {"fault": kind, "from": round(world.now, 6)}

    def clear(params: dict[str, Any]) -> dict[str, Any]:
        for fault in added:
            if fault in world.faults.faults:
                world.faults.faults.remove(fault)
        n = len(added)
        added.clear()
        return {"cleared": n}

    return [
        ControlAction("fault", "add a port fault from now: {kind, port, direction, "
                      "probability, on, for_s, ...}", add_fault),
        ControlAction("clear-faults", "remove the faults added through the control API",
                      clear),
    ]
