"""A bridge with its pinpads, cards and acquirer, assembled for a run.

``MposLab`` wires what a merchant's counter holds: N virtual ABECS pinpads, each
with a queue of cards and a customer, the acquirer host (terminal tables, card_hash
key, authorizations) and the mpos-bridge server. In virtual mode each pinpad hangs on
an in-memory serial line that the bridge may open and close again and again (a
powered pinpad on a cable); in realtime mode each pinpad sits on the device side of a
pty pair and the bridge opens the host side with pyserial at initialize.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol_servers.mpos.codec import frame_label
from protocol_servers.mpos.devices import DeviceRegistry, SerialDevice
from protocol_servers.mpos.profiles import DOCUMENTED, Profile
from protocol_servers.mpos.server import MposBridgeServer
from simulator.streams import ByteEnd, MessageEnd, PureLabeler, message_link

if TYPE_CHECKING:
    from protocol_servers.merchant_api import MerchantBackend
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad


def line_labeler(pinpad_ref: list[Any]) -> Callable[[object], str]:
    """ABECS frame labels, decrypted with the pinpad's session key once it has one."""
    from virtual_devices.abecs.labeler import FrameLabeler

    return FrameLabeler(lambda: pinpad_ref[0].session if pinpad_ref else None)


class VirtualSerialLine:
    """A serial cable to a powered pinpad: the host side can be opened again after close.

    The pinpad keeps its end for the whole run; each open makes a fresh host end and
    points the pinpad's writes at it; closing the host end lets the pinpad's writes
    fall on the floor, as bytes on an unplugged cable do.
    """

    def __init__(
        self,
        world: World,
        pinpad_end: ByteEnd,
        host_name: str,
        labeler: Callable[[object], str] | None = None,
    ) -> None:
        self.world = world
        self.labeler = labeler
        self.pinpad_end = pinpad_end
        self.host_name = host_name
        self.current: ByteEnd | None = None
        pinpad_end.connect(self._drop)
        self.opens = 0

    def _drop(self, data: bytes) -> None:
        self.world.transcript.event(self.pinpad_end.name, f"{len(data)} bytes on an open line")

    def open(self, baud: int) -> ByteEnd:
        if self.current is not None and not self.current.is_closed:
            self.current.close()
        host = ByteEnd(self.world, self.host_name, self.labeler)
        host.connect(self.pinpad_end.deliver, on_close=lambda: self._detach(host))
        self.pinpad_end.connect(host.deliver)
        self.current = host
        self.opens += 1
        self.world.transcript.event(self.host_name, f"serial line opened at {baud or 'default'} bd")
        return host

    def _detach(self, host: ByteEnd) -> None:
        if self.current is host:
            self.pinpad_end.connect(self._drop)
            self.current = None


@dataclass
class Reader:
    """One pinpad as the lab holds it."""

    index: int
    pinpad: Pinpad
    device: SerialDevice
    line: VirtualSerialLine | None = None
    pty: Any = None  # simulator.ports.pty.PtyPair in realtime mode

    @property
    def port(self) -> str:
        return self.device.port


@dataclass
class MposLab:
    world: World
    server: MposBridgeServer
    backend: MerchantBackend
    readers: list[Reader] = field(default_factory=list)
    silent: list[SerialDevice] = field(default_factory=list)
    ptys: list[Any] = field(default_factory=list)
    _clients: int = 0

    def connect(self, name: str | None = None) -> MessageEnd:
        """An in-memory POS connection (virtual mode), served by ``server.accept``."""
        self._clients += 1
        pos, srv = message_link(
            self.world, name or f"pos{self._clients}", f"bridge.ws{self._clients}",
            PureLabeler(frame_label),
        )
        self.server.accept(srv, None)
        return pos

    def queue_card(self, reader: int, card: Any) -> None:
        self.readers[reader].pinpad.queue_card(card)

    def close(self) -> None:
        for r in self.readers:
            if r.pty is not None:
                r.pty.close()
        for pair in self.ptys:
            pair.close()


def build_lab(
    world: World,
    *,
    readers: int = 1,
    cards: Iterable[Any] | Callable[[int], Iterable[Any]] = (),
    behaviour: Any = None,
    profile: Profile = DOCUMENTED,
    backend: MerchantBackend | None = None,
    secure: bool = True,
    link_dir: str | os.PathLike[str] | None = None,
    extra_serial: Iterable[str] = (),
    silent_ports: int = 0,
) -> MposLab:
    """Assemble a lab. Virtual mode uses in-memory lines; realtime mode uses ptys
    (and must be called from inside the running asyncio loop)."""
    from protocol_servers.merchant_api import MerchantBackend
    from virtual_devices.abecs.customer import Customer
    from virtual_devices.abecs.pinpad import Pinpad

    backend = backend or MerchantBackend(world)
    devices = DeviceRegistry(world)
    server = MposBridgeServer(world, devices, backend, profile)
    lab = MposLab(world, server, backend)
    for i in range(readers):
        card_list = list(cards(i) if callable(cards) else cards)
        customer = Customer(world, behaviour, name=f"customer{i}")
        ref: list[Any] = []
        labeler = line_labeler(ref)
        if world.mode == "virtual":
            end = ByteEnd(world, f"pinpad{i}", labeler)
            line = VirtualSerialLine(world, end, f"bridge.serial{i}", labeler)
            pinpad = Pinpad(
                world, end, cards=card_list, customer=customer, secure=secure, name=f"pinpad{i}"
            )
            dev = devices.add(
                f"/dev/ttyVPP{i}", line.open, name=f"Serial Device (VPP{i})", manufacturer=""
            )
            lab.readers.append(Reader(i, pinpad, dev, line=line))
        else:
            from simulator.ports.pty import PtyPair, open_serial_end

            pair = PtyPair(link_dir=link_dir, names=(f"ttyVPP{i}", f"pinpad{i}-device")).open()
            end = open_serial_end(world, pair.device_path, name=f"pinpad{i}", labeler=labeler)
            pinpad = Pinpad(
                world, end, cards=card_list, customer=customer, secure=secure, name=f"pinpad{i}"
            )
            dev = devices.add_serial_path(
                pair.host_path, labeler=labeler, port_name=f"bridge.serial{i}"
            )
            lab.readers.append(Reader(i, pinpad, dev, pty=pair))
        ref.append(pinpad)
        pinpad.start()
    for k in range(silent_ports):
        # a port with nothing behind it: the wrong COM port a user may pick (§7 item 5)
        if world.mode == "virtual":
            dead = ByteEnd(world, f"nothing{k}")
            line = VirtualSerialLine(world, dead, f"bridge.silent{k}")
            lab.silent.append(devices.add(f"/dev/ttyS{k}", line.open, name=f"Serial Device (S{k})"))
        else:
            from simulator.ports.pty import PtyPair

            pair = PtyPair(link_dir=link_dir, names=(f"ttyS{k}", f"ttyS{k}-nobody")).open()
            lab.ptys.append(pair)
            lab.silent.append(
                devices.add_serial_path(pair.host_path, port_name=f"bridge.silent{k}")
            )
    for path in extra_serial:
        devices.add_serial_path(
            path, labeler=line_labeler([]), port_name=f"bridge.{os.path.basename(path)}"
        )
    return lab
