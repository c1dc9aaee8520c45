"""The fault catalogue: faults by layer, each with its expected outcome.

The catalogue (``faults_catalogue.toml``) is data: a vendor reads it to know what the
suite will do to their implementation and what is expected of it; cases and
Hypothesis strategies draw from it. Port faults turn into :mod:`simulator.faults`
primitives, which record every firing in the transcript (the Jepsen way: the
faults are part of the history); message, card and human faults are actions a
case performs, and :func:`note` records them the same way.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.world import World

LAYERS = ("serial", "transport", "protocol", "card", "human", "backend", "device", "pos")
KINDS = ("port", "message", "card", "human", "backend", "device", "pos")
EXPECTS = ("completes", "error", "aborted", "reconnect")
PRIMITIVES = {
    "drop": "Drop",
    "corrupt": "Corrupt",
    "duplicate": "Duplicate",
    "delay": "Delay",
    "split": "Split",
    "stall": "Stall",
    "disconnect": "Disconnect",
}


class CatalogueError(ValueError):
    """The catalogue file is inconsistent."""


@dataclass(frozen=True)
class FaultSpec:
    """One catalogue entry."""

    layer: str
    name: str
    title: str
    kind: str
    expect: str
    expected: str
    primitive: str | None = None
    action: str | None = None
    direction: str = "*"
    params: Mapping[str, Any] = field(default_factory=dict)
    #: what each protocol's POS is finally told (back-end and device faults)
    outcomes: Mapping[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.name}"

    def to_fault(self, port: str, direction: str | None = None, **overrides: Any) -> Any:
        """The :mod:`simulator.faults` primitive for a port fault, bound to ``port``."""
        if self.kind != "port" or self.primitive is None:
            raise CatalogueError(f"{self.id} is a {self.kind} fault, not a port fault")
        from simulator import faults

        cls = getattr(faults, PRIMITIVES[self.primitive])
        params = {**self.params, **overrides}
        if "on" in params and params["on"] is not None:
            params["on"] = tuple(params["on"])
        return cls(port=port, direction=direction or self.direction, **params)


class UnsupportedFault(CatalogueError):
    """The component asked cannot act out this catalogue fault (yet)."""


def behaviour_kwargs(spec: FaultSpec, who: str) -> dict[str, Any]:
    """Behaviour fields that make a human or card fault happen.

    ``who`` is ``"customer"`` (the ABECS pinpad's customer,
    :class:`virtual_devices.abecs.customer.Behaviour`) or ``"cardholder"`` (the EMV
    kernel's, :class:`virtual_devices.cardholder.Behaviour`). Raises
    :class:`UnsupportedFault` when that component has no way to do it, so a case can
    report the fault as unimplemented instead of pretending.
    """
    p = dict(spec.params)
    action = spec.action
    if who == "customer":
        if action == "cancel":
            return {"cancel_at": p.get("at", "pin")}
        if action == "walk_away":
            return {"walk_away_at": p.get("at", "card")}
        if action == "wrong_pin":
            return {"wrong_pins": int(p.get("times", 1))}
    elif who == "cardholder":
        if action == "cancel" and p.get("at", "pin") == "pin":
            return {"cancel_at_pin": True}
        if action == "walk_away":
            return {"walk_away": True}
        if action == "wrong_pin":
            # any PIN that is not the true one (1234 unless the case says otherwise)
            return {"pins": tuple("0000" for _ in range(int(p.get("times", 1))))}
        if action == "remove_early":
            return {"remove_after_apdus": int(p.get("after_apdus", 3))}
        if action == "collision":
            return {"second_card_in_field": True}
    else:
        raise ValueError(f"who must be 'customer' or 'cardholder', not {who!r}")
    if action == "mute":
        raise UnsupportedFault(f"{spec.id} is done by the card itself: use apply_card_fault")
    if action == "late_signature":
        raise UnsupportedFault(f"{spec.id} is done by the POS: use answer_delay")
    raise UnsupportedFault(f"{spec.id} ({action}) cannot be acted out by the {who}")


def apply_card_fault(spec: FaultSpec, card: Any) -> None:
    """Make a card fault that lives in the card itself happen to ``card``.

    ``card.mute``: the card answers ``after_apdus`` command APDUs, then falls silent
    (:meth:`virtual_devices.emv.card.VirtualCard.mute_after_apdus`). Raises
    :class:`UnsupportedFault` for other faults (the cardholder does those, see
    :func:`behaviour_kwargs`) and for cards that cannot be told to misbehave.
    """
    if spec.action == "mute":
        mute = getattr(card, "mute_after_apdus", None)
        if mute is None:
            raise UnsupportedFault(f"{spec.id}: {type(card).__name__} cannot be made mute")
        mute(int(spec.params.get("after_apdus", 2)))
        return
    raise UnsupportedFault(f"{spec.id} ({spec.action}) is not a fault of the card itself")


def answer_delay(spec: FaultSpec) -> float:
    """Seconds the POS waits before answering an action, for a late-answer fault.

    ``human.late_signature``: the cardholder signs (and the POS submits) ``delay``
    simulated seconds after the action arrived, beyond the server's action timeout.
    """
    if spec.action == "late_signature":
        return float(spec.params.get("delay", 150.0))
    raise UnsupportedFault(f"{spec.id} ({spec.action}) is not a late answer")


def host_fault(spec: FaultSpec) -> Any:
    """The :class:`~virtual_devices.acquirer.link.HostFault` that acts out a back-end fault.

    Delays come from ``virtual_devices/acquirer/timings.toml`` by the name the entry's
    ``params.delay`` gives (``fault_slow_delay``...), so each number has its source.
    """
    if spec.kind != "backend" or spec.action is None:
        raise UnsupportedFault(f"{spec.id} is not a back-end fault")
    from virtual_devices.acquirer.link import TIMINGS, HostFault

    delay = spec.params.get("delay")
    seconds = TIMINGS[delay] if isinstance(delay, str) else float(delay or 0.0)
    return HostFault(spec.action, seconds)


def put_backend_fault(world: World, spec: FaultSpec) -> None:
    """Put a back-end fault on ``world``'s line to the acquirer, for every server's host
    path at once (:func:`virtual_devices.acquirer.link.set_line_fault`)."""
    from virtual_devices.acquirer.link import set_line_fault

    set_line_fault(world, host_fault(spec))


def heal_backend(world: World) -> None:
    """Take the back-end fault off ``world``'s line: the next customer is served normally."""
    from virtual_devices.acquirer.link import set_line_fault

    set_line_fault(world, None)


def check_line_outcome(spec: FaultSpec, world: World, entries: Any) -> None:
    """What the line itself must show after a back-end fault acted on one charge.

    Silent or late: the terminal's timeout reversal went out and the charge is reversed;
    down: nothing reached the host; twice or late: the extra answer arrived and was
    ignored. (The POS side of the outcome is each protocol's to check.)
    """
    text = world.transcript.jsonl()
    charges = [e for e in entries if e.kind in ("sale", "authorisation", "preauth")]
    if spec.action in ("silent", "late"):
        assert "timeout reversal" in text, f"{spec.id}: no timeout reversal went out"
        assert charges and all(e.reversed for e in charges), f"{spec.id}: {charges}"
    if spec.action == "down":
        assert not charges, f"{spec.id}: a charge reached a host that was down: {charges}"
    if spec.action in ("twice", "late"):
        assert "was ignored" in text, f"{spec.id}: the extra answer never arrived"


def put_device_fault(world: World, spec: FaultSpec) -> Any:
    """Arm a pinpad power fault (``device.reboot``, ``device.power_loss``) for the pinpads
    of ``world``: the first to receive ``params.at`` loses power as it arrives
    (:mod:`virtual_devices.abecs.power`). Returns the armed fault (``.fired`` names the
    pinpad it hit)."""
    if spec.kind != "device" or spec.action not in ("reboot", "power_loss"):
        raise UnsupportedFault(f"{spec.id} is not a pinpad power fault")
    from virtual_devices.abecs import power

    off = spec.params.get("off", 0.0)
    seconds = power_timings()[off] if isinstance(off, str) else float(off)
    return power.arm(world, power.PowerFault(at=str(spec.params["at"]), off=seconds,
                                             kind=spec.action))


def power_timings() -> Any:
    from simulator.timings import load_timings

    return load_timings("virtual_devices.abecs")


def device_back_seconds(spec: FaultSpec) -> float:
    """Simulated seconds until a pinpad hit by ``spec`` is back: off, then its boot."""
    t = power_timings()
    off = spec.params.get("off", 0.0)
    return float((t[off] if isinstance(off, str) else float(off)) + t["boot_time"] + 1.0)


def line_settle_seconds() -> float:
    """Simulated seconds after a faulty sale by which whatever the line still carries
    (a copy of the answer, an answer after the reversal) has arrived."""
    from virtual_devices.acquirer.link import TIMINGS

    return float(TIMINGS["host_response_timeout"] + TIMINGS["fault_late_delay"]
                 + TIMINGS["fault_slow_delay"] + 2 * TIMINGS["host_roundtrip"])


def note(world: World, port: str, spec: FaultSpec, detail: str = "") -> None:
    """Record a message/card/human fault in the transcript, like port faults are."""
    text = f"fault: {spec.id} ({spec.action or spec.primitive})"
    world.transcript.event(port, text + (f" {detail}" if detail else ""))


class Catalogue(Mapping[str, FaultSpec]):
    """Entries by id (``"serial.noise"``), in file order."""

    def __init__(self, entries: list[FaultSpec]) -> None:
        self._entries = {e.id: e for e in entries}

    def __getitem__(self, key: str) -> FaultSpec:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def layer(self, layer: str) -> list[FaultSpec]:
        return [e for e in self._entries.values() if e.layer == layer]

    def of_kind(self, kind: str) -> list[FaultSpec]:
        return [e for e in self._entries.values() if e.kind == kind]


def parse_catalogue(text: str) -> Catalogue:
    raw = tomllib.loads(text)
    entries: list[FaultSpec] = []
    for layer, body in raw.items():
        if layer not in LAYERS:
            raise CatalogueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        for name, e in body.items():
            where = f"{layer}.{name}"
            for key in ("title", "kind", "expect", "expected"):
                if key not in e:
                    raise CatalogueError(f"{where}: missing {key!r}")
            if e["kind"] not in KINDS:
                raise CatalogueError(f"{where}: kind must be one of {KINDS}")
            if e["expect"] not in EXPECTS:
                raise CatalogueError(f"{where}: expect must be one of {EXPECTS}")
            if e["kind"] == "port":
                if e.get("primitive") not in PRIMITIVES:
                    raise CatalogueError(f"{where}: primitive must be one of {list(PRIMITIVES)}")
            elif not e.get("action"):
                raise CatalogueError(f"{where}: a {e['kind']} fault needs an action")
            entries.append(
                FaultSpec(
                    layer=layer,
                    name=name,
                    title=e["title"],
                    kind=e["kind"],
                    expect=e["expect"],
                    expected=e["expected"],
                    primitive=e.get("primitive"),
                    action=e.get("action"),
                    direction=e.get("direction", "*"),
                    params=dict(e.get("params", {})),
                    outcomes=dict(e.get("outcomes", {})),
                )
            )
    return Catalogue(entries)


def load_catalogue() -> Catalogue:
    text = (
        importlib.resources.files("conformance")
        .joinpath("faults_catalogue.toml")
        .read_text(encoding="utf-8")
    )
    return parse_catalogue(text)
