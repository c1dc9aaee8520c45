"""mpos-bridge.md §4.2 (ABECS 2.12 §2.2): the pinpad's bytes checked without the suite's
own codec.

``link.py`` and ``messages.py`` serve both the pinpad and the suite's host, so a bug in
them can break both sides alike and stay green. These cases write the host's packets out
literally from the spec, compute every CRC with :func:`binascii.crc_hqx` (CRC-16/XMODEM:
polynomial 0x1021, initial value 0, over PKTDATA and ETB) and read the pinpad's answer
byte by byte.
"""

from __future__ import annotations

import binascii
from typing import Any

import pytest

from conformance import case

Gen = Any

ACK, NAK, SYN, ETB, CAN = 0x06, 0x15, 0x16, 0x17, 0x18
# ABECS 2.12 §2.2.1: at most 2049 bytes of PKTDATA (before byte stuffing)
LIMIT = 2049


def wire(pktdata: bytes) -> bytes:
    """A packet as the spec draws it; ``pktdata`` must hold no byte that needs stuffing."""
    assert not set(pktdata) & {0x13, SYN, ETB}, "write stuffed bytes out by hand"
    crc = binascii.crc_hqx(pktdata + bytes((ETB,)), 0)
    return bytes((SYN,)) + pktdata + bytes((ETB, crc >> 8, crc & 0xFF))


def answers(raw: bytes) -> list[bytes]:
    """The PKTDATA of each packet in ``raw`` whose CRC is right by binascii's count."""
    out: list[bytes] = []
    i = 0
    while True:
        start = raw.find(bytes((SYN,)), i)
        if start < 0:
            return out
        end = raw.find(bytes((ETB,)), start)
        if end < 0 or end + 2 >= len(raw):
            return out
        body = raw[start + 1 : end]
        unstuffed = bytearray()
        j = 0
        while j < len(body):
            if body[j] == 0x13 and j + 1 < len(body):
                unstuffed.append(body[j + 1] - 0x20)
                j += 2
            else:
                unstuffed.append(body[j])
                j += 1
        crc = (raw[end + 1] << 8) | raw[end + 2]
        assert crc == binascii.crc_hqx(bytes(unstuffed) + bytes((ETB,)), 0), (
            f"the pinpad's CRC {crc:04X} is wrong for {bytes(unstuffed)[:16]!r}")
        out.append(bytes(unstuffed))
        i = end + 3


def send(device: Any, data: bytes, seconds: float = 2.0) -> Gen:
    mark = device.host.send_raw(data)
    yield device.world.timeout(seconds)
    return bytes(device.host.received[mark:])


def opened(device: Any) -> Gen:
    """CAN, then OPN in clear, both written out literally: the pinpad answers OPN 000."""
    yield from send(device, bytes((CAN,)), 1.0)
    got = yield from send(device, wire(b"OPN000"))
    assert got[:1] == bytes((ACK,)), f"OPN was not acknowledged: {got.hex()}"
    assert answers(got) == [b"OPN000"], f"OPN answered {answers(got)}"


@case("abecs/4.2/20", title="GTS written out from the spec: the pinpad acknowledges it and "
      "answers GTS 000 with a 10-character version, CRC checked by another implementation",
      section="4.2", failure="the pinpad's frames or CRCs differ from the spec's, which only "
      "a host sharing its codec would not notice")
def test_gts_literal(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from opened(abecs_device)
        return (yield from send(abecs_device, wire(b"GTS00200")))

    got = abecs_device.run(flow)
    assert got[:1] == bytes((ACK,)), f"the literal GTS was not acknowledged: {got.hex()}"
    (pkt,) = answers(got[1:])
    assert pkt[:9] == b"GTS000010", pkt
    assert len(pkt) == 19 and pkt[9:].isascii(), pkt


@case("abecs/4.2/21", title="a packet of exactly the limit (2049 bytes) is taken; one byte more "
      "is refused with NAK and never answered", section="4.2",
      failure="the pinpad refuses a packet of the largest allowed size or takes a longer one")
def test_packet_length_boundary(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from opened(abecs_device)
        # DSP with a message padded out to the limit: well-formed at the link, whatever
        # the command layer makes of its length
        at = yield from send(abecs_device, wire(b"DSP" + b"0" * (LIMIT - 3)))
        over = yield from send(abecs_device, wire(b"DSP" + b"0" * (LIMIT - 2)))
        after = yield from send(abecs_device, wire(b"GTS00200"))
        return at, over, after

    at, over, after = abecs_device.run(flow)
    assert at[:1] == bytes((ACK,)), f"a {LIMIT}-byte packet was refused: {at[:4].hex()}"
    assert len(answers(at[1:])) == 1 and answers(at[1:])[0][:3] == b"DSP"
    assert over[:1] == bytes((NAK,)), f"a {LIMIT + 1}-byte packet was not NAKed: {over[:4].hex()}"
    assert answers(over) == [], "a packet over the limit was answered"
    assert after[:1] == bytes((ACK,)) and answers(after[1:])[0][:6] == b"GTS000"


@case("abecs/4.2/22", title="while the pinpad waits out a broken packet, CAN and a new packet "
      "in one write: EOT, then the new packet is acknowledged and answered", section="4.2",
      failure="the pinpad loses the packet that follows the host's CAN in the same write")
def test_can_then_packet_in_one_write(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from opened(abecs_device)
        # a whole packet one byte over the limit: the pinpad drops it and waits for the
        # line to fall silent (or for CAN) before it reads packets again
        mark = abecs_device.host.send_raw(wire(b"DSP" + b"0" * (LIMIT - 2)))
        yield abecs_device.world.timeout(0.01)
        got = yield from send(abecs_device, bytes((CAN,)) + wire(b"GTS00200"))
        return bytes(abecs_device.host.received[mark:]), got

    before, got = abecs_device.run(flow)
    assert not answers(before[: len(before) - len(got)]), "the over-long packet was answered"
    eot = got.find(bytes((0x04,)))
    assert eot >= 0, f"no EOT for the CAN: {got.hex()}"
    rest = got[eot + 1 :]
    assert rest[:1] == bytes((ACK,)), f"the packet after CAN was not acknowledged: {got.hex()}"
    assert [p[:6] for p in answers(rest[1:])] == [b"GTS000"], got.hex()


@case("abecs/4.2/23", title="a packet sent in three pieces, each gap under the 2 s inter-byte "
      "limit but the whole over it, is taken: the limit counts from the last byte",
      section="4.2", failure="the pinpad times a packet from its first byte and drops a slow "
      "but valid host's packets")
def test_inter_byte_limit_counts_from_last_byte(abecs_device: Any) -> None:
    whole = wire(b"GTS00200")

    def flow() -> Gen:
        yield from opened(abecs_device)
        mark = abecs_device.host.send_raw(whole[:4])
        yield abecs_device.world.timeout(1.5)  # 2 s is the limit between two bytes
        abecs_device.host.send_raw(whole[4:8])
        yield abecs_device.world.timeout(1.5)
        abecs_device.host.send_raw(whole[8:])
        yield abecs_device.world.timeout(2.0)
        return bytes(abecs_device.host.received[mark:])

    got = abecs_device.run(flow)
    assert got[:1] == bytes((ACK,)), f"a slow packet was refused: {got.hex()}"
    assert [p[:6] for p in answers(got[1:])] == [b"GTS000"], got.hex()


# GOC's answer opens with six one-digit flags (ABECS 2.12 §4.8, mpos-bridge.md §4.8):
# decision, signature, offline PIN verified, offline PIN typed wrong, PIN blocked, online PIN
GOC_FLAGS = {
    "visa-chip-pin": "201000",  # go online, offline PIN right at the first try
    "mc-chip-signature": "210000",  # go online, signature
    "mc-wrong-pin-then-right": "201100",  # offline PIN verified after a wrong try
    "visa-online-pin": "200001",  # go online with an online PIN block
}


@pytest.mark.parametrize("card_name", sorted(GOC_FLAGS))
@case("abecs/4.8/20", title="GOC's six flags read byte by byte: decision, signature, offline "
      "PIN, offline PIN typed wrong, PIN blocked, online PIN", section="4.8",
      failure="GOC reports another verification than the cardholder performed")
def test_goc_flags_literal(abecs_device: Any, card_name: str) -> None:
    from virtual_devices.abecs.customer import Customer
    from virtual_devices.abecs.flows import sale
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()[card_name]
    pinpad = abecs_device.present(VirtualCard(profile).place_in(abecs_device.world))
    pinpad.customer = Customer.for_profile(abecs_device.world, profile)
    acquirer = make_acquirer(abecs_device.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")

    def flow() -> Gen:
        yield from abecs_device.host.opn(secure=False)
        mark = len(abecs_device.host.received)
        yield from sale(abecs_device.host, acquirer, 1000, version, records_from_config(cfg))
        return bytes(abecs_device.host.received[mark:])

    raw = abecs_device.run(flow)
    gocs = [p for p in answers(raw) if p[:6] == b"GOC000"]
    assert len(gocs) == 1, f"expected one GOC answer, got {len(gocs)}"
    data = gocs[0][9:]
    assert int(gocs[0][6:9]) == len(data), "GOC's length field does not match its data"
    assert data[:6].decode() == GOC_FLAGS[card_name], (card_name, data[:6])


@case("abecs/4.2/24", title="a stray ACK or EOT from the host after a response is ignored: the "
      "pinpad resends its response on NAK only", section="4.2",
      failure="the pinpad repeats a response the host did not ask for again")
def test_stray_control_bytes_ignored(abecs_device: Any) -> None:
    def flow() -> Gen:
        yield from opened(abecs_device)
        first = yield from send(abecs_device, wire(b"GTS00200"))
        after_ack = yield from send(abecs_device, bytes((ACK,)), 1.0)
        after_eot = yield from send(abecs_device, bytes((0x04,)), 1.0)
        after_nak = yield from send(abecs_device, bytes((NAK,)), 1.0)
        return first, after_ack, after_eot, after_nak

    first, after_ack, after_eot, after_nak = abecs_device.run(flow)
    (response,) = answers(first[1:])
    assert after_ack == b"" and after_eot == b"", (after_ack.hex(), after_eot.hex())
    assert answers(after_nak) == [response], "NAK did not bring the same response back"


@case("abecs/4.6/20", title="CKE reports a card inserted (event 2, status 1), then, asked to wait "
      "for removal, the card removed (event 2, status 0), byte by byte", section="4.6",
      failure="CKE does not report the chip card's insertion or removal as the spec writes it")
def test_cke_insert_and_removal(abecs_device: Any) -> None:
    from virtual_devices.abecs import messages as m
    from virtual_devices.abecs.fields import Command
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()["visa-chip-pin"]
    abecs_device.present(VirtualCard(profile).place_in(abecs_device.world))

    def flow() -> Gen:
        yield from opened(abecs_device)
        out = []
        for flags in (b"001", b"002"):  # key off, stripe off, chip: 1 insertion, 2 removal
            mark = len(abecs_device.host.received)
            rsp = yield from abecs_device.host.exchange(Command("CKE", (flags,)))
            out.append((rsp, bytes(abecs_device.host.received[mark:])))
        return out

    (ins, ins_raw), (rem, rem_raw) = abecs_device.run(flow)
    assert [p for p in answers(ins_raw) if p[:3] == b"CKE"] == [b"CKE00000221"], ins_raw
    assert [p for p in answers(rem_raw) if p[:3] == b"CKE"] == [b"CKE00000220"], rem_raw
    got_in, got_out = m.CkeResponse.from_response(ins), m.CkeResponse.from_response(rem)
    assert (got_in.event, got_in.status) == (2, 1) and (got_out.event, got_out.status) == (2, 0)
