"""The ABECS device under test.

By default a virtual pinpad runs inside the case's world: on an in-memory serial line
in virtual mode, on a real pty pair (socat) with ``--mode realtime``. With ``--serial
/dev/ttyUSB0 --baud 19200`` the suite plays the host against a real pinpad; cases that
need a card or a PIN from a person, or that read the pinpad's insides, are skipped
for a real device (the operator cannot be scripted).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from conformance.options import get_options, serial_port
from conformance.targets import Kind, Target
from simulator.streams import ByteEnd, byte_link
from simulator.world import World
from virtual_devices.abecs.customer import Behaviour, Customer
from virtual_devices.abecs.host import AbecsHost
from virtual_devices.abecs.labeler import FrameLabeler
from virtual_devices.abecs.pinpad import Pinpad

warnings.filterwarnings("ignore", message=".*TripleDES.*")

Flow = Callable[[], Generator[Any, Any, Any]]


class AbecsDevice(Target):
    """A pinpad on a serial line and the suite's host on the other end."""

    def __init__(self, world: World, end: ByteEnd, pinpad: Pinpad | None,
                 loop: asyncio.AbstractEventLoop | None) -> None:
        kind: Kind = "serial" if pinpad is None else (
            "virtual" if world.mode == "virtual" else "served")
        super().__init__(world, kind, loop)
        self.end = end
        self.pinpad = pinpad
        self.host = AbecsHost(world, end)

    @property
    def virtual(self) -> bool:
        """True when the pinpad is ours (its cards, customer and state are visible)."""
        return self.reference

    def need_virtual(self, why: str) -> Pinpad:
        if self.pinpad is None:
            pytest.skip(f"needs the virtual pinpad: {why}")
        return self.pinpad

    def present(self, card: Any, behaviour: Behaviour | None = None) -> Pinpad:
        """Queue a card for the virtual customer (skips on a real device)."""
        pinpad = self.need_virtual("a card must be presented by a person")
        if behaviour is not None:
            pinpad.customer = Customer(self.world, behaviour)
        pinpad.queue_card(card)
        return pinpad

    def run(self, flow: Flow, *args: Any, limit: float | None = 300.0) -> Any:
        return super().run(flow, *args, limit=limit)


# ``--profile abecs+no-crc-check`` (or ``+no-nak-resend``) switches a link rule off in the
# virtual pinpad: the suite's own tests show that the named cases then fail
RULE_SWITCHES = {"no-crc-check": "check_crc", "no-nak-resend": "resend_on_nak"}


def _switch_rules(pinpad: Pinpad, profile: str | None) -> None:
    for name in (profile or "").split("+")[1:]:
        if name not in RULE_SWITCHES:
            raise pytest.UsageError(f"unknown ABECS rule switch +{name}; "
                                    f"known: {sorted(RULE_SWITCHES)}")
        setattr(pinpad.link, RULE_SWITCHES[name], False)


@pytest.fixture
def abecs_device(world: World, request: pytest.FixtureRequest) -> Iterator[AbecsDevice]:
    holder: list[Pinpad] = []
    profile = get_options(request.config).profile
    if profile is not None and profile.split("+")[0] != "abecs":
        profile = None  # a profile meant for another protocol's server
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    serial = serial_port(request.config)
    with ExitStack() as stack:
        if world.mode == "virtual":
            if serial is not None:
                pytest.skip("a real serial device needs --mode realtime")
            host_end, dev_end = byte_link(world, "host", "pinpad", labeler=labeler)
            pinpad = Pinpad(world, dev_end)
            _switch_rules(pinpad, profile)
            holder.append(pinpad)
            pinpad.start()
            yield AbecsDevice(world, host_end, pinpad, None)
            return
        from simulator.ports.pty import PtyPair, open_serial_end

        loop = asyncio.new_event_loop()
        stack.callback(loop.close)

        async def opened(path: str, name: str, baud: int | None = None) -> ByteEnd:
            return open_serial_end(world, path, name=name, baud=baud, labeler=labeler)

        if serial is not None:
            path, baud = serial
            host_end = loop.run_until_complete(opened(path, "host", baud))
            stack.callback(host_end.close)
            yield AbecsDevice(world, host_end, None, loop)
            return
        pair = stack.enter_context(PtyPair(names=("host", "pinpad")))
        host_end = loop.run_until_complete(opened(pair.host_path, "host"))
        dev_end = loop.run_until_complete(opened(pair.device_path, "pinpad"))
        stack.callback(host_end.close)
        stack.callback(dev_end.close)
        pinpad = Pinpad(world, dev_end)
        holder.append(pinpad)
        pinpad.start()
        yield AbecsDevice(world, host_end, pinpad, loop)
