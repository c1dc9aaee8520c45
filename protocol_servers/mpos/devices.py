"""The serial ports the bridge can see, listed the way the shipped bridge listed them.

The original polled ``SerialPort.GetPortNames()`` and gave each port a GUID the first
time it saw it, new on every start (mpos-bridge.md §2.5 type 1). Here a port is either a
virtual pinpad (an in-memory byte link in virtual mode, a pty in realtime mode) or a
real serial device named on the command line; both are listed alike. Ids come from the
world's seeded random stream, so a virtual run lists the same ids for the same seed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from protocol_servers.mpos.codec import DeviceInfo

if TYPE_CHECKING:
    from simulator.streams import ByteEnd
    from simulator.world import World

# opener(baud) -> the host side of the serial line, opened at that rate
Opener = Callable[[int], "ByteEnd"]


@dataclass
class SerialDevice:
    port: str
    id: str
    opener: Opener
    name: str = ""
    manufacturer: str = ""
    kind: int = 0
    # a real port may vanish (USB unplugged); virtual ones are always present
    must_exist: bool = False
    owner: str | None = field(default=None)

    def present(self) -> bool:
        return not self.must_exist or os.path.exists(self.port)

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            self.port,
            self.id,
            self.name or f"Serial Device ({self.port})",
            self.manufacturer,
            self.kind,
        )


class DeviceRegistry:
    """Ports in the order they were found; ids stable for the life of the registry."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._rng = world.rng("mpos-bridge.devices")
        self._devices: list[SerialDevice] = []

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def add(
        self,
        port: str,
        opener: Opener,
        *,
        name: str = "",
        manufacturer: str = "",
        must_exist: bool = False,
    ) -> SerialDevice:
        for dev in self._devices:
            if dev.port == port:
                dev.opener = opener
                return dev
        dev = SerialDevice(port, self._new_id(), opener, name, manufacturer, must_exist=must_exist)
        self._devices.append(dev)
        return dev

    def add_serial_path(
        self,
        path: str,
        *,
        name: str = "",
        labeler: Callable[[bytes], str] | None = None,
        port_name: str = "pinpad",
    ) -> SerialDevice:
        """A real serial port (or a pty) opened with pyserial at the requested rate."""
        world = self._world

        def opener(baud: int) -> ByteEnd:
            from simulator.ports.pty import open_serial_end

            return open_serial_end(world, path, name=port_name, baud=baud or None, labeler=labeler)

        return self.add(path, opener, name=name, must_exist=True)

    def scan_os_ports(self, labeler: Callable[[bytes], str] | None = None) -> list[SerialDevice]:
        """Add every serial port the OS reports, as ``SerialPort.GetPortNames()`` did for
        the shipped bridge; USB adapters carry their manufacturer's name."""
        from serial.tools.list_ports import comports

        found = []
        for port in comports():
            dev = self.add_serial_path(
                port.device, labeler=labeler, port_name=f"bridge.{os.path.basename(port.device)}"
            )
            if port.manufacturer:
                dev.manufacturer = port.manufacturer
            found.append(dev)
        return found

    def present(self) -> list[SerialDevice]:
        return [d for d in self._devices if d.present()]

    def listing(self) -> list[DeviceInfo]:
        return [d.info() for d in self.present()]

    def get(self, device_id: str) -> SerialDevice | None:
        for dev in self.present():
            if dev.id == device_id:
                return dev
        return None
