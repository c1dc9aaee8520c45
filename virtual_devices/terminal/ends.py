"""One function that gives a terminal its pinpad end: in memory, over a pty, or a real
serial port.

``pinpad_end(world, "memory", cards=[...])`` puts a virtual pinpad on the other end of
an in-memory line (virtual mode, the tests and benches); ``"pty"`` puts it behind a
socat pty pair, the bytes crossing a real tty (realtime mode); ``"serial"`` opens a
device path where a real pinpad (or another process's virtual one) answers, so there is
no pinpad object here. :meth:`PinpadEnd.terminal` builds the
:class:`~virtual_devices.terminal.app.Terminal` on it, with the pinpad's device events
attached when the pinpad runs in this world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.streams import ByteEnd, byte_link
from simulator.world import World
from virtual_devices.abecs.host import AbecsHost
from virtual_devices.abecs.labeler import FrameLabeler
from virtual_devices.terminal import events as ev
from virtual_devices.terminal.app import Choices, Settings, Terminal

EndKind = Literal["memory", "pty", "serial"]


@dataclass
class PinpadEnd:
    """The host side of a pinpad line, the virtual pinpad when there is one, and what to
    close when done."""

    world: World
    host: AbecsHost
    host_end: ByteEnd
    pinpad: Any = None  # virtual_devices.abecs.pinpad.Pinpad in this world, else None
    port: str = ""  # the pinpad's tty (pty device side, or the serial device); "" in memory
    host_port: str = ""  # the tty the host opened
    closers: list[Callable[[], None]] = field(default_factory=list)

    def terminal(self, acquirer: Any = None, settings: Settings | None = None,
                 observer: ev.Observer | None = None,
                 choices: Choices | None = None) -> Terminal:
        term = Terminal(self.world, self.host, acquirer, settings, observer, choices)
        if self.pinpad is not None:
            term.attach_pinpad(self.pinpad)
        return term

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def pinpad_end(
    world: World,
    kind: EndKind = "memory",
    *,
    cards: Iterable[Any] = (),
    customer: Any = None,
    device: str | None = None,
    baud: int | None = None,
    secure: bool = True,
    name: str = "",
    link_dir: str | None = None,
    **pinpad_kw: Any,
) -> PinpadEnd:
    """A pinpad end of ``kind``; ``customer`` is a Customer, a Behaviour or a Cardholder.

    ``device`` is the tty path for ``"serial"``; ``baud`` paces an in-memory line like a
    serial one (each byte its character time) or sets a tty's speed. ``name`` prefixes
    the ports (``NAME.host``, ``NAME.pinpad``; plain ``host``/``pinpad`` without one);
    ``link_dir`` is where a pty pair's links go.
    """
    from virtual_devices.abecs.pinpad import Pinpad

    host_name = f"{name}.host" if name else "host"
    pad_name = f"{name}.pinpad" if name else "pinpad"

    holder: list[Any] = []
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    pacing = None
    if baud is not None:
        from simulator.pacing import Pacing

        pacing = Pacing(baud)
    closers: list[Callable[[], None]] = []
    if kind == "memory":
        host_end, dev_end = byte_link(world, host_name, pad_name, labeler=labeler)
        if pacing is not None:
            host_end.pace(pacing)
            dev_end.pace(pacing)
        port = host_port = ""
    elif kind == "pty":
        from simulator.ports.pty import PtyPair, open_serial_end

        links = (f"{name}-host", f"{name}-pinpad") if name else ("host", "pinpad")
        pair = PtyPair(link_dir=link_dir, names=links).open()
        closers.append(pair.close)
        dev_end = open_serial_end(world, pair.device_path, name=pad_name, baud=baud,
                                  labeler=labeler, pacing=pacing)
        host_end = open_serial_end(world, pair.host_path, name=host_name, baud=baud,
                                   labeler=labeler, pacing=pacing)
        closers += [dev_end.close, host_end.close]
        port, host_port = pair.device_path, pair.host_path
    elif kind == "serial":
        from simulator.ports.pty import open_serial_end

        if not device:
            raise ValueError("a serial pinpad end needs the device path")
        host_end = open_serial_end(world, device, name=host_name, baud=baud, pacing=pacing)
        closers.append(host_end.close)
        return PinpadEnd(world, AbecsHost(world, host_end), host_end,
                         port=device, host_port=device, closers=closers)
    else:
        raise ValueError(f"unknown pinpad end {kind!r}; use memory, pty or serial")
    pinpad = Pinpad(world, dev_end, cards=cards, secure=secure, name=pad_name,
                    **_customer(world, customer), **pinpad_kw)
    holder.append(pinpad)
    world.inject(pinpad.start)  # in realtime mode, at the wall clock's simulated now
    return PinpadEnd(world, AbecsHost(world, host_end), host_end, pinpad,
                     port, host_port, closers)


def _customer(world: World, who: Any) -> dict[str, Any]:
    from virtual_devices.abecs.customer import Behaviour, Customer

    if who is None:
        return {}
    if isinstance(who, Behaviour):
        return {"customer": Customer(world, who)}
    if isinstance(who, Customer):
        return {"customer": who}
    return {"cardholder": who}
