"""mpos-bridge.md §4.2 (ABECS 2.12 §2.2.2, §2.2.3): the terminal application's side of the
link, against a pinpad scripted in the case.

The payment terminal the servers drive (``virtual_devices.terminal``) talks to its pinpad
through the suite's ABECS host; a pinpad that NAKs, garbles, stalls or never answers EOT
is the only way to see whether that host keeps the spec's counts and waits: three sends of
a command, three NAKs of a bad response, NAK after the 2 s inter-byte limit, CAN three
times at 2 s. The scripted pinpad writes its packets out literally (CRCs by
:func:`binascii.crc_hqx`) and logs when each byte came. The real pinpad is not involved,
so these cases run on the suite's own host in any mode but a real serial device's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance import case
from conformance.cases.abecs.test_wire import ACK, CAN, NAK, SYN, wire
from simulator.streams import ByteEnd, byte_link
from virtual_devices.abecs.fields import Command
from virtual_devices.abecs.host import AbecsError, AbecsHost

Gen = Any
EOT = 0x04
GTS_ANSWER = b"GTS000010" + b"CL00000042"


class ScriptedPinpad:
    """Reads what the host writes and answers with ``reply(chunk)``; logs every chunk."""

    def __init__(self, world: Any, end: ByteEnd, reply: Callable[[bytes], list[bytes]]) -> None:
        self.world, self.end, self.reply = world, end, reply
        self.log: list[tuple[float, bytes]] = []
        world.process(self._run())

    def _run(self) -> Gen:
        while True:
            data = yield self.end.read()
            if not data:
                return
            self.log.append((self.world.now, bytes(data)))
            for out in self.reply(bytes(data)):
                self.end.write(out)

    def packets(self) -> list[float]:
        """When each packet (a chunk holding SYN) arrived."""
        return [t for t, c in self.log if SYN in c]

    def controls(self, byte: int) -> list[float]:
        return [t for t, c in self.log if c == bytes((byte,))]


def _host(device: Any, reply: Callable[[bytes], list[bytes]]) -> tuple[AbecsHost, ScriptedPinpad]:
    device.need_virtual("the pinpad is scripted inside the case's world")
    host_end, pinpad_end = byte_link(device.world, "terminal", "scripted-pinpad")
    host = AbecsHost(device.world, host_end, name="terminal", blocking_limit=None)
    return host, ScriptedPinpad(device.world, pinpad_end, reply)


def _gts(host: AbecsHost) -> Gen:
    """GTS 00; the answer, or the error the host raised."""
    try:
        return (yield from host.exchange(Command("GTS", (b"00",))))
    except AbecsError as exc:
        return exc


def _bad(pktdata: bytes) -> bytes:
    out = bytearray(wire(pktdata))
    out[-1] ^= 0x5A
    return bytes(out)


@case("abecs/4.2/202", title="the terminal's host sends a command three times when the pinpad "
      "NAKs each, then gives up", section="4.2",
      failure="the terminal gives up before the spec's three tries, or never stops resending")
def test_host_three_sends_on_nak(abecs_device: Any) -> None:
    host, pinpad = _host(abecs_device, lambda c: [bytes((NAK,))] if SYN in c else [])

    def flow() -> Gen:
        got = yield from _gts(host)
        yield abecs_device.world.timeout(5.0)
        return got

    got = abecs_device.run(flow)
    assert isinstance(got, AbecsError) and got.code == -1, f"expected a link failure: {got!r}"
    assert len(pinpad.packets()) == 3, f"the command went {len(pinpad.packets())} times"
    assert all(c == wire(b"GTS00200") for t, c in pinpad.log), "a resend differs from the first"


@case("abecs/4.2/203", title="the terminal's host NAKs a response with a bad CRC up to three "
      "times: a good fourth copy is taken, a bad fourth one ends the exchange", section="4.2",
      failure="the terminal gives up on a pinpad's answer before three NAKs, or NAKs for ever")
def test_host_three_naks_on_bad_response(abecs_device: Any) -> None:
    results = []
    for good_after in (3, None):
        sent = {"bad": 0}

        def reply(chunk: bytes, good_after: int | None = good_after,
                  sent: dict[str, int] = sent) -> list[bytes]:
            if SYN in chunk:
                sent["bad"] = 1
                return [bytes((ACK,)), _bad(GTS_ANSWER)]
            if chunk == bytes((NAK,)):
                if good_after is not None and sent["bad"] >= good_after:
                    return [wire(GTS_ANSWER)]
                sent["bad"] += 1
                return [_bad(GTS_ANSWER)]
            return []

        host, pinpad = _host(abecs_device, reply)

        def flow(host: AbecsHost = host) -> Gen:
            got = yield from _gts(host)
            yield abecs_device.world.timeout(5.0)
            return got

        results.append((abecs_device.run(flow), pinpad))
    (taken, p1), (refused, p2) = results
    assert not isinstance(taken, AbecsError) and taken.encode() == GTS_ANSWER, taken
    assert len(p1.controls(NAK)) == 3, f"{len(p1.controls(NAK))} NAKs before the good copy"
    assert isinstance(refused, AbecsError) and refused.code == -1, refused
    assert len(p2.controls(NAK)) == 3, f"{len(p2.controls(NAK))} NAKs for four bad copies"


@case("abecs/4.2/204", title="a response that stalls half-way: the terminal's host NAKs 2 s "
      "after its last byte and takes the resent response", section="4.2",
      failure="the terminal fails at the first stalled response or waits on it for ever")
def test_host_nak_after_inter_byte_timeout(abecs_device: Any) -> None:
    answer = wire(GTS_ANSWER)

    def reply(chunk: bytes) -> list[bytes]:
        if SYN in chunk:
            return [bytes((ACK,)), answer[:8]]
        return [answer] if chunk == bytes((NAK,)) else []

    host, pinpad = _host(abecs_device, reply)
    got = abecs_device.run(lambda: _gts(host))
    assert not isinstance(got, AbecsError) and got.encode() == GTS_ANSWER, got
    naks = pinpad.controls(NAK)
    assert len(naks) == 1, naks
    start = pinpad.packets()[0]
    assert 1.9 <= naks[0] - start <= 2.6, f"NAK {naks[0] - start:.2f} s after the last byte"


@case("abecs/4.2/205", title="a pinpad that never answers EOT: the terminal's host sends CAN "
      "three times, 2 s apart, gives up, and its next command works", section="4.2",
      failure="the terminal stops cancelling too early, cancels for ever, or stays stuck "
      "after a cancel nobody answered")
def test_host_can_three_times(abecs_device: Any) -> None:
    def reply(chunk: bytes) -> list[bytes]:
        if SYN in chunk:
            return [bytes((ACK,)), wire(GTS_ANSWER)]
        return []

    host, pinpad = _host(abecs_device, reply)

    def flow() -> Gen:
        try:
            yield from host.cancel()
            cancelled: Any = "EOT"
        except AbecsError as exc:
            cancelled = exc
        ended = abecs_device.world.now
        yield abecs_device.world.timeout(5.0)
        after = yield from _gts(host)
        return cancelled, ended, after

    cancelled, ended, after = abecs_device.run(flow)
    cans = pinpad.controls(CAN)
    assert isinstance(cancelled, AbecsError), f"CAN ended with {cancelled!r} without an EOT"
    assert len(cans) == 3, f"CAN sent {len(cans)} times"
    assert [round(t - cans[0], 1) for t in cans] == [0.0, 2.0, 4.0], cans
    assert round(ended - cans[0], 1) == 6.0, f"gave up {ended - cans[0]:.1f} s after the first"
    assert not isinstance(after, AbecsError) and after.encode() == GTS_ANSWER, after
