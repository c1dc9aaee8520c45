"""A pinpad that reboots or loses power: what it forgets, what it keeps, how long it is gone.

A real pinpad keeps in flash what it was loaded with -- its keys (the DUKPT registers and
their counters, the master keys), its EMV tables, its multimedia files -- and loses with
its RAM everything a transaction or a session built: the secure session of OPN (so the
host's next secure packet is answered 003 ST_NOSEC and the host must OPN again, §4.5),
the chip session of GCR/GOC (a FNC after a reboot finds no card session), the tracks GTK
would give, a half-received packet, the PIN prompt, and the display (back to the blank
idle screen of power-on). While it is off and while it boots it answers nothing: bytes
sent to it are lost (no ACK, no NAK), so the host's link gives up on its own timeouts.

Faults are armed per world (:func:`arm`), like the line to the acquirer: the first
pinpad of the world that receives the named command (``at``, e.g. ``"FNC"``: after the
host approved, before the card confirmed) loses power as the command arrives. ``off``
is how long it stays without power (0 for a reboot), then it takes ``boot_time`` from
its timings to come back.

Choice where ABECS is silent: the customer takes their card out when the pinpad goes
dark (the clerk asks them to), so the slot is empty after the boot and the next sale
starts with a fresh insertion.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad

Gen = Generator[simpy.Event, Any, Any]


@dataclass
class PowerFault:
    """Power goes as the command ``at`` arrives; back after ``off`` s plus the boot time."""

    at: str
    off: float = 0.0
    kind: str = "reboot"  # "reboot" | "power_loss": how the transcript names it
    fired: list[str] = field(default_factory=list)  # the pinpads it hit (once each plan)

    @property
    def spent(self) -> bool:
        return bool(self.fired)


_PLANS: weakref.WeakKeyDictionary[Any, list[PowerFault]] = weakref.WeakKeyDictionary()


def arm(world: World, fault: PowerFault) -> PowerFault:
    """Plan ``fault`` for the pinpads of ``world`` (it fires once, on the first hit)."""
    _PLANS.setdefault(world, []).append(fault)
    return fault


def disarm(world: World) -> None:
    _PLANS.pop(world, None)


def on_command(pinpad: Pinpad, cmd_id: str) -> bool:
    """Called as a command reaches ``pinpad``: True when power went (the command is lost)."""
    plans = _PLANS.get(pinpad.world)
    if not plans:
        return False
    for fault in plans:
        if not fault.spent and fault.at == cmd_id:
            fault.fired.append(pinpad.name)
            pinpad.world.transcript.event(
                pinpad.name, f"fault: device.{fault.kind}: power lost as {cmd_id} arrived")
            power_cycle(pinpad, fault.off, fault.kind)
            return True
    return False


def power_cycle(pinpad: Pinpad, off: float = 0.0, kind: str = "reboot") -> simpy.Process:
    """Take the power away now, for ``off`` s, then boot; returns the process (ends booted)."""
    forget_volatile(pinpad)
    return pinpad.world.process(_back(pinpad, off, kind))


def forget_volatile(pinpad: Pinpad) -> None:
    """Everything RAM held is gone; keys, tables and files (flash) stay."""
    from virtual_devices.abecs.commands import link_timings
    from virtual_devices.abecs.link import PinpadLink

    pinpad.powered = False
    pinpad.driver.listening = False
    pinpad._abort_running("power lost")
    pinpad.session = None  # the secure session: the host must OPN again
    if pinpad.slot.card is not None:
        pinpad.slot.remove()  # the customer takes the card out of the dark pinpad
    pinpad.slot.reset()  # the chip session, a pending fallback, the antenna
    pinpad.pin_prompt = pinpad.pin_timeout = None
    pinpad.pin_kind = "online"
    ext = pinpad.extended
    # the transaction currency went with the card session (slot.reset above)
    ext.tracks, ext.pan, ext.gcx_card_type = None, "", None
    ext.loading, ext.received = None, bytearray()  # a multimedia load half done
    # the link forgets a half-received packet and what it was waiting for
    pinpad.driver.timer.disarm()
    pinpad.link = PinpadLink(link_timings(pinpad.t))
    pinpad.driver.machine = pinpad.link
    pinpad._apply = pinpad.driver.apply
    pinpad.display.clear()  # dark, then the power-on idle screen


def _back(pinpad: Pinpad, off: float, kind: str) -> Gen:
    world = pinpad.world
    world.transcript.event(pinpad.name, f"power off ({kind})")
    if off > 0:
        yield world.timeout(off)
    world.transcript.event(pinpad.name, "power on: booting")
    yield world.timeout(pinpad.t["boot_time"])
    pinpad.powered = True
    pinpad.driver.listening = True
    pinpad.booted += 1
    pinpad.display.clear()
    world.transcript.event(pinpad.name, "booted: idle, no session (the host must OPN)")
