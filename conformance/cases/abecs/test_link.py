"""mpos-bridge.md §4.2: the ABECS link layer as the pinpad must implement it."""

from __future__ import annotations

from typing import Any

from conformance import case
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.link import CAN, EOT, ETB, NAK, SYN, crc16, frame

from .steps import GTS, acked, bad_crc, frames_in, listen, naked

Gen = Any


def _open_clear(device: Any) -> Gen:
    yield from device.host.cancel()
    yield from device.host.opn(secure=False)


@case("abecs/4.2/1", title="a packet with a bad CRC is answered by NAK and dropped",
      section="4.2", failure="the pinpad accepts corrupted packets or stays silent")
def test_crc_error_nak(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        return (yield from listen(abecs_device, bad_crc(GTS), 2.0))

    got = abecs_device.run(flow)
    assert naked(got), f"expected NAK, got {got.hex()}"
    assert frames_in(got) == [], "a response came for a corrupted packet"


@case("abecs/4.2/2", title="NAK from the host makes the pinpad resend its last response",
      section="4.2", failure="a response lost on the line cannot be recovered")
def test_nak_resend(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        first = yield from listen(abecs_device, frame(GTS), 2.0)
        again = yield from listen(abecs_device, bytes((NAK,)), 2.0)
        return first, again

    first, again = abecs_device.run(flow)
    assert acked(first) and len(frames_in(first)) == 1
    assert frames_in(again) == frames_in(first)


@case("abecs/4.2/3", title="three NAKs in a row are each answered with the response again",
      section="4.2", failure="the pinpad gives up before the host's three tries")
def test_three_naks(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        first = yield from listen(abecs_device, frame(GTS), 2.0)
        resent = []
        for _ in range(3):
            resent.append((yield from listen(abecs_device, bytes((NAK,)), 2.0)))
        return first, resent

    first, resent = abecs_device.run(flow)
    for r in resent:
        assert frames_in(r) == frames_in(first)


@case("abecs/4.2/4", title="CAN during GCR is answered by EOT and GCR is aborted",
      section="4.2", failure="a blocking command cannot be cancelled by the host")
def test_can_during_gcr(abecs_device: Any) -> None:
    out: dict[str, Any] = {}

    def canceller() -> Gen:
        yield abecs_device.world.timeout(2.0)
        yield from abecs_device.host.cancel()
        out["eot"] = True

    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        abecs_device.world.process(canceller())
        try:
            yield from abecs_device.host.gcr(m.GcrRequest(100, "261125", "120000", "0" * 10))
        except AbecsError as exc:
            out["code"] = exc.code
        out["after"] = yield from abecs_device.host.gts(0)

    abecs_device.run(flow)
    assert out.get("eot") and out.get("code") == 13
    assert len(out["after"]) == 10


@case("abecs/4.2/5", title="noise between packets is ignored", section="4.2",
      failure="line noise before SYN breaks the next command")
def test_garbage_between_packets(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        return (yield from listen(abecs_device, b"\x00\xff\x41\x7f\x30" + frame(GTS), 2.0))

    got = abecs_device.run(flow)
    assert acked(got) and frames_in(got)[0][:6] == b"GTS000"


@case("abecs/4.2/6", title="a packet longer than 2049 bytes is refused and the link recovers",
      section="4.2", failure="an oversized packet is accepted or wedges the pinpad")
def test_oversized_packet(abecs_device: Any) -> None:
    body = b"DSP" + b"A" * 2100
    crc = crc16(body + bytes((ETB,)))
    wire = bytes((SYN,)) + body + bytes((ETB, crc >> 8, crc & 0xFF))

    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        got = yield from listen(abecs_device, wire, 3.0)
        after = yield from abecs_device.host.gts(0)
        return got, after

    got, after = abecs_device.run(flow)
    assert not acked(got) and frames_in(got) == []
    assert naked(got[-1:]) or NAK in got
    assert len(after) == 10


@case("abecs/4.2/7", title="CAN while idle is answered by EOT", section="4.2",
      failure="the pinpad ignores CAN outside a command")
def test_can_idle(abecs_device: Any) -> None:
    def flow() -> Gen:
        return (yield from listen(abecs_device, bytes((CAN,)), 2.0))

    assert bytes((EOT,)) in abecs_device.run(flow)


@case("abecs/4.2/8", title="a packet cut short is NAKed after silence; the next one works",
      section="4.2", failure="an interrupted packet wedges the receiver")
def test_packet_cut_short(abecs_device: Any, verdict: Any) -> None:
    def flow() -> Gen:
        yield from _open_clear(abecs_device)
        got = yield from listen(abecs_device, frame(GTS)[:5], 4.0)
        after = yield from abecs_device.host.gts(0)
        return got, after

    got, after = abecs_device.run(flow)
    assert len(after) == 10
    if not naked(got):
        verdict.non_strict("no NAK after an interrupted packet (the next packet still works)")
