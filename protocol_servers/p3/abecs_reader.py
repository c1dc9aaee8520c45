"""A card reader behind ABECS: what a non-MOCK device of the PayServer drives.

PayServer talks to its reader over a serial line (payworks-p3.md §8.3: Miura over USB /
Bluetooth shows up as a COM port). Our readers speak ABECS, so the host side here is
the project's :class:`~virtual_devices.abecs.host.AbecsHost`; the other side is the
project's virtual pinpad (with the EMV card and the cardholder in it) on an in-memory
line in virtual mode or on a pty in realtime mode, or a real pinpad on a serial path.
Online authorisations go to the shared acquirer host, which verifies the ARQC.

Choice (the spec is silent): the pinpad chooses between a card's applications on its
own screen, as ABECS GCR does; the P3 APPLICATION_SELECTION action is raised by MOCK
devices only.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from simulator.world import World
from virtual_devices.terminal import PinpadEnd, Settings, Tables, Terminal, pinpad_end

if TYPE_CHECKING:
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.pinpad import Pinpad

Gen = Generator[simpy.Event, Any, Any]
DEFAULT_CARDS = ("visa-chip-pin",)


@dataclass
class AbecsReader:
    world: World
    host: AbecsHost
    acquirer: Any
    pinpad: Pinpad | None = None
    cards: tuple[str, ...] = DEFAULT_CARDS
    port_path: str | None = None  # the pinpad's serial port (realtime)
    host_path: str | None = None  # the side the server opens
    version: str = ""
    records: list[bytes] = field(default_factory=list)
    opened: bool = False
    customer: dict[str, Any] = field(default_factory=dict)
    _next_card: int = 0
    _closers: list[Any] = field(default_factory=list)
    terminal: Terminal = field(init=False)

    def __post_init__(self) -> None:
        self.terminal = Terminal(self.world, self.host, self.acquirer, P3_SETTINGS)
        if not self.version:
            from virtual_devices.abecs.tables import records_from_config

            cfg = self.acquirer.terminal_config()
            self.version = cfg.table_version[:10].ljust(10, "0")
            self.records = records_from_config(cfg)

    @property
    def tables(self) -> Tables:
        return Tables(self.version, tuple(self.records))

    def prepare(self) -> Gen:
        """Open the secure session once and make sure the pinpad holds the tables."""
        if not self.opened:
            yield from self.host.opn()
            self.opened = True
        yield from self.terminal.ensure_tables(self.tables)

    def hand_card(self) -> None:
        """The customer at this counter holds the next configured card (virtual pinpads)."""
        if self.pinpad is None or self.pinpad.cards:
            return
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        name = self.cards[self._next_card % len(self.cards)]
        self._next_card += 1
        profile = catalogue()[name]
        self.pinpad.customer = Customer.for_profile(self.world, profile, **self.customer)
        self.pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()


# How the PayServer words its ABECS commands: the reference tag lists, GOC without a
# floor limit (every chip sale goes online unless the card declines), a 076 reported as
# a terminal error rather than retried, APROVADA/NEGADA on the removal prompt.
P3_SETTINGS = Settings(floor_limit=0, approved_text="APROVADA", declined_text="NEGADA",
                       retry_after_fallback=False)


def _reader(world: World, end: PinpadEnd, acquirer: Any, cards: tuple[str, ...],
            customer: dict[str, Any] | None) -> AbecsReader:
    reader = AbecsReader(world, end.host, acquirer, end.pinpad, cards,
                         port_path=end.port or None, host_path=end.host_port or None,
                         customer=dict(customer or {}))
    reader._closers += list(reversed(end.closers))
    return reader


def virtual_reader(world: World, identifier: str, acquirer: Any,
                   cards: tuple[str, ...] = DEFAULT_CARDS,
                   customer: dict[str, Any] | None = None) -> AbecsReader:
    """Pinpad and host on an in-memory serial line (virtual mode)."""
    return _reader(world, pinpad_end(world, "memory", name=identifier), acquirer, cards,
                   customer)


def pty_reader(world: World, identifier: str, acquirer: Any,
               cards: tuple[str, ...] = DEFAULT_CARDS, link_dir: str | None = None,
               customer: dict[str, Any] | None = None) -> AbecsReader:
    """Realtime: the virtual pinpad on the device side of a pty pair, the host on the other.

    Must be called with the asyncio loop running (the serial ends join it).
    """
    end = pinpad_end(world, "pty", name=identifier, link_dir=link_dir)
    return _reader(world, end, acquirer, cards, customer)


def serial_reader(world: World, identifier: str, acquirer: Any, path: str,
                  baud: int | None = None) -> AbecsReader:
    """Realtime: a real ABECS pinpad on ``path``; the cardholder is a person."""
    end = pinpad_end(world, "serial", name=identifier, device=path, baud=baud)
    return _reader(world, end, acquirer, (), None)
