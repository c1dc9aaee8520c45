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

from simulator.streams import ByteEnd, byte_link
from simulator.world import World

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

    def prepare(self) -> Gen:
        """Open the secure session once and make sure the pinpad holds the tables."""
        from virtual_devices.abecs.flows import ensure_tables

        if not self.opened:
            yield from self.host.opn()
            self.opened = True
        yield from ensure_tables(self.host, self.version, self.records)

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


def _tables(reader: AbecsReader) -> None:
    from virtual_devices.abecs.tables import records_from_config

    cfg = reader.acquirer.terminal_config()
    reader.version = cfg.table_version[:10].ljust(10, "0")
    reader.records = records_from_config(cfg)


def virtual_reader(world: World, identifier: str, acquirer: Any,
                   cards: tuple[str, ...] = DEFAULT_CARDS,
                   customer: dict[str, Any] | None = None) -> AbecsReader:
    """Pinpad and host on an in-memory serial line (virtual mode)."""
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    holder: list[Pinpad] = []
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    host_end, pad_end = byte_link(world, f"{identifier}.host", f"{identifier}.pinpad",
                                  labeler=labeler)
    pinpad = Pinpad(world, pad_end, name=f"{identifier}.pinpad")
    holder.append(pinpad)
    pinpad.start()
    reader = AbecsReader(world, AbecsHost(world, host_end), acquirer, pinpad, cards,
                         customer=dict(customer or {}))
    _tables(reader)
    return reader


def pty_reader(world: World, identifier: str, acquirer: Any,
               cards: tuple[str, ...] = DEFAULT_CARDS, link_dir: str | None = None,
               customer: dict[str, Any] | None = None) -> AbecsReader:
    """Realtime: the virtual pinpad on the device side of a pty pair, the host on the other.

    Must be called with the asyncio loop running (the serial ends join it).
    """
    from simulator.ports.pty import PtyPair, open_serial_end
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    pair = PtyPair(link_dir=link_dir, names=(f"{identifier}-host", f"{identifier}-pinpad"))
    pair.open()
    holder: list[Pinpad] = []
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    pad_end: ByteEnd = open_serial_end(world, pair.device_path, name=f"{identifier}.pinpad",
                                       labeler=labeler)
    host_end: ByteEnd = open_serial_end(world, pair.host_path, name=f"{identifier}.host",
                                        labeler=labeler)
    pinpad = Pinpad(world, pad_end, name=f"{identifier}.pinpad")
    holder.append(pinpad)
    world.inject(pinpad.start)
    reader = AbecsReader(world, AbecsHost(world, host_end), acquirer, pinpad, cards,
                         port_path=pair.device_path, host_path=pair.host_path,
                         customer=dict(customer or {}))
    reader._closers += [host_end.close, pad_end.close, pair.close]
    _tables(reader)
    return reader


def serial_reader(world: World, identifier: str, acquirer: Any, path: str,
                  baud: int | None = None) -> AbecsReader:
    """Realtime: a real ABECS pinpad on ``path``; the cardholder is a person."""
    from simulator.ports.pty import open_serial_end
    from virtual_devices.abecs.host import AbecsHost

    host_end = open_serial_end(world, path, name=f"{identifier}.host", baud=baud)
    reader = AbecsReader(world, AbecsHost(world, host_end), acquirer, None, (), port_path=path)
    reader._closers.append(host_end.close)
    _tables(reader)
    return reader
