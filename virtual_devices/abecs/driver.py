"""One driver that applies a sans-I/O ABECS link machine's outputs, for either role.

:class:`~virtual_devices.abecs.link.HostLink` and
:class:`~virtual_devices.abecs.link.PinpadLink` both turn bytes and timer expiries into
outputs. Writing bytes, arming and disarming the one timer, and reading the line are
the same for both ends (as one connection class serves client and server in
websockets); only what a role does with a received packet, a cancel or a failure
differs, and each role registers those handlers by output type.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol

import simpy

from simulator.streams import ByteEnd
from simulator.world import World
from virtual_devices.abecs.link import Arm, Disarm, Output, Send
from virtual_devices.abecs.timer import LinkTimer

Handler = Callable[[Any], None]


class LinkMachine(Protocol):
    def receive_data(self, data: bytes) -> list[Output]: ...
    def timer_expired(self) -> list[Output]: ...


class LinkDriver:
    """Reads ``end``, feeds ``machine`` and applies what it says, on the world's clock.

    ``handlers`` maps an output type to what the role does with it; outputs without a
    handler (an ``Acked`` the host does not need) are dropped. ``on_bytes`` sees every
    chunk read before the machine does; ``on_closed`` runs once when the line closes.
    """

    def __init__(self, world: World, end: ByteEnd, machine: LinkMachine,
                 handlers: Mapping[type, Handler],
                 on_closed: Callable[[], None] = lambda: None,
                 on_bytes: Callable[[bytes], None] | None = None) -> None:
        self.world = world
        self.end = end
        self.machine = machine
        self.timer = LinkTimer(world, self._expired)
        self.routes: dict[type, Handler] = {
            Send: self._send,
            Arm: self._arm,
            Disarm: self._disarm,
            **handlers,
        }
        self.on_closed = on_closed
        self.on_bytes = on_bytes
        # False while the device is without power: what arrives is lost unread (no ACK)
        self.listening = True

    def start(self) -> simpy.Process:
        return self.world.process(self._reader())

    def apply(self, outputs: list[Output]) -> None:
        routes = self.routes
        for out in outputs:
            handler = routes.get(type(out))
            if handler is not None:
                handler(out)

    def _reader(self) -> Generator[Any, Any, None]:
        end = self.end
        while True:
            data = yield end.read()
            if not data:
                self.on_closed()
                return
            if not self.listening:
                continue
            if self.on_bytes is not None:
                self.on_bytes(data)
            self.apply(self.machine.receive_data(data))

    def _expired(self) -> None:
        self.apply(self.machine.timer_expired())

    def _send(self, out: Send) -> None:
        self.end.write(out.data)

    def _arm(self, out: Arm) -> None:
        self.timer.arm(out.seconds)

    def _disarm(self, out: Disarm) -> None:
        self.timer.disarm()
