"""mpos-bridge.md §4.2 and §4.5 (ABECS 2.12 §2.2, §5.2): the link and the secure session
checked without the suite's own codec.

``link.py`` and ``secure.py`` serve both the pinpad and the suite's host. Here the host's
side is written in the case: packets stuffed and framed by hand, CRCs by
:func:`binascii.crc_hqx`, the RSA key and AES-128-CBC straight from ``cryptography``,
and the pinpad's answers unwrapped the same way.
"""

from __future__ import annotations

import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from conformance import case
from conformance.cases.abecs.test_wire import ACK, CAN, ETB, NAK, SYN, answers, opened, send, wire

Gen = Any
DC2, DC3 = 0x12, 0x13


def stuffed(pktdata: bytes) -> bytes:
    """A packet with any bytes: DC3, SYN and ETB in PKTDATA go as DC3 + byte + 0x20 (§2.2.1);
    the CRC covers the unstuffed PKTDATA and ETB and goes out as it is."""
    body = bytearray()
    for b in pktdata:
        body += bytes((DC3, b + 0x20)) if b in (DC3, SYN, ETB) else bytes((b,))
    crc = binascii.crc_hqx(pktdata + bytes((ETB,)), 0)
    return bytes((SYN,)) + bytes(body) + bytes((ETB, crc >> 8, crc & 0xFF))


@case("abecs/4.2/200", title="a packet that arrives in pieces cut right after SYN and right "
      "after an escaping DC3 is put together and answered", section="4.2",
      failure="the pinpad loses or misreads a packet whose escape sequence is split "
      "between two reads of the line")
def test_packet_split_at_syn_and_escape(abecs_device: Any) -> None:
    # DSP's message holds a DC3 (0x13): it goes as 13 33; the pinpad shows it as a space
    msg = b"AB\x13CD".ljust(32)
    pkt = stuffed(b"DSP032" + msg)
    assert pkt[1:7] == b"DSP032" and b"\x13\x33" in pkt
    cut = pkt.index(bytes((DC3,))) + 1

    def flow() -> Gen:
        yield from opened(abecs_device)
        out = []
        for pieces in ((pkt[:1], pkt[1:]), (pkt[:cut], pkt[cut:])):
            mark = len(abecs_device.host.received)
            for piece in pieces:
                abecs_device.host.send_raw(piece)
                yield abecs_device.world.timeout(0.2)
            yield abecs_device.world.timeout(2.0)
            out.append(bytes(abecs_device.host.received[mark:]))
        return out

    for got in abecs_device.run(flow):
        assert got[:1] == bytes((ACK,)), f"the split packet was refused: {got.hex()}"
        assert answers(got[1:]) == [b"DSP000"], got.hex()
    if abecs_device.virtual:
        assert abecs_device.pinpad.display.current.text.startswith("AB CD")


@case("abecs/4.2/201", title="the very first bytes the pinpad reads: a parameter-tagged packet "
      "cut short after a 0x18 data byte is still timed out and NAKed, and the next packet "
      "works", section="4.2",
      failure="a packet cut short right after power-up leaves the receiver waiting forever")
def test_first_packet_cut_after_0x18(abecs_device: Any) -> None:
    # GIX's parameters are binary (§3.1.3): 0x18 inside them is data, not CAN
    cut_short = bytes((SYN,)) + b"GIX004" + b"\x80\x18"

    def flow() -> Gen:
        first = yield from send(abecs_device, cut_short, 4.0)
        after = yield from send(abecs_device, wire(b"GTS00200"))
        return first, after

    first, after = abecs_device.run(flow)
    assert first == bytes((NAK,)), f"expected one NAK after the stalled packet: {first.hex()}"
    assert after[:1] == bytes((ACK,)) and [p[:6] for p in answers(after[1:])] == [b"GTS000"]


# ---- secure session ------------------------------------------------------------------


def _aes(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(bytes(16)))


def seal(ksec: bytes, clear: bytes) -> bytes:
    """DC2 + AES-128-CBC(KSEC, IV 0)[DATALEN X2 | CRC16 X2 | data | 00 filler] (§5.2)."""
    crc = binascii.crc_hqx(clear, 0)
    body = len(clear).to_bytes(2, "big") + crc.to_bytes(2, "big") + clear
    body += bytes(-len(body) % 16)
    enc = _aes(ksec).encryptor()
    return bytes((DC2,)) + enc.update(body) + enc.finalize()


def unseal(ksec: bytes, pkt: bytes) -> bytes:
    assert pkt[:1] == bytes((DC2,)) and (len(pkt) - 1) % 16 == 0, pkt[:4].hex()
    dec = _aes(ksec).decryptor()
    body = dec.update(pkt[1:]) + dec.finalize()
    n = int.from_bytes(body[:2], "big")
    assert 4 + n <= len(body) < 4 + n + 16, f"DATALEN {n} in {len(body)} bytes"
    clear = body[4 : 4 + n]
    assert int.from_bytes(body[2:4], "big") == binascii.crc_hqx(clear, 0), "DATACRC wrong"
    assert not any(body[4 + n :]), "the filler is not zeros"
    return clear


@case("abecs/4.5/200", title="secure OPN with a 1024-bit key and a one-byte exponent (3), "
      "written out from the spec: CRKSEC unwraps with PKCS#1 v1.5 to a 16-byte KSEC; then "
      "encrypted commands of every length modulo 16 are answered, each answer decrypting "
      "with DATALEN, CRC and zero filler right", section="4.5",
      failure="the pinpad refuses a legitimate RSA key, wraps KSEC otherwise than PKCS#1 "
      "v1.5, or misreads encrypted packets of some lengths")
def test_secure_session_literal(abecs_device: Any, verdict: Any) -> None:
    key = rsa.generate_private_key(public_exponent=3, key_size=1024)
    mod = key.public_key().public_numbers().n.to_bytes(128, "big").hex().upper().encode()
    # OPMODE 0, MODLEN 128 (bytes), MOD H256, EXPLEN 1 (bytes), EXP H2
    body = b"0" + b"128" + mod + b"1" + b"03"
    assert len(body) == 263

    def flow() -> Gen:
        yield from send(abecs_device, bytes((CAN,)), 1.0)
        got = yield from send(abecs_device, wire(b"OPN263" + body))
        opn = answers(got[1:])
        if opn != [b"OPN000"]:
            ksec = key.decrypt(bytes.fromhex(opn[0][12:].decode()), padding.PKCS1v15())
        else:
            return got, None, []
        out = []
        for k in range(16):
            msg = b"SEGURO 0123456789"[:k]
            clear = b"DEX" + f"{3 + k:03d}".encode() + f"{k:03d}".encode() + msg
            out.append((k, (yield from send(abecs_device, stuffed(seal(ksec, clear))))))
        return got, ksec, out

    got, ksec, out = abecs_device.run(flow)
    assert got[:1] == bytes((ACK,)), got[:8].hex()
    (opn,) = answers(got[1:])
    if ksec is None:
        verdict.unimplemented("the pinpad answers OPN000: no secure mode (obsolete pinpad)")
        return
    assert opn[:12] == b"OPN000259128" and len(opn) == 12 + 256, opn[:12]
    assert len(ksec) == 16
    for k, raw in out:
        assert raw[:1] == bytes((ACK,)), (k, raw[:8].hex())
        (pkt,) = answers(raw[1:])
        assert unseal(ksec, pkt) == b"DEX000", f"DEX with a {k}-character message: {pkt[:8]!r}"


@case("abecs/4.2/206", title="a packet over the 2049-byte limit is a receive error: the pinpad "
      "discards what follows until 500 ms of silence, a packet sent 0.2 s later included, and "
      "only then NAKs", section="4.2",
      failure="the pinpad treats an over-long packet as a mere CRC error and reads the bytes "
      "that follow it, so a host resending on the NAK gets a command run twice")
def test_overlong_packet_resynchronises(abecs_device: Any) -> None:
    over = wire(b"DSP" + b"0" * 2047)  # 2050 bytes of PKTDATA: one over the limit

    def flow() -> Gen:
        yield from opened(abecs_device)
        mark = abecs_device.host.send_raw(over)
        yield abecs_device.world.timeout(0.2)
        sent = abecs_device.world.now
        abecs_device.host.send_raw(wire(b"GTS00200"))
        heard: list[tuple[float, bytes]] = []
        for _ in range(30):  # what arrives, every 0.1 s for 3 s
            yield abecs_device.world.timeout(0.1)
            new = bytes(abecs_device.host.received[mark:])
            if new:
                heard.append((abecs_device.world.now - sent, new))
                mark += len(new)
        after = yield from send(abecs_device, wire(b"GTS00200"))
        return heard, after

    heard, after = abecs_device.run(flow)
    everything = b"".join(chunk for _, chunk in heard)
    assert everything == bytes((NAK,)), f"expected one NAK and nothing else: {everything.hex()}"
    assert heard[0][0] >= 0.5 - 1e-9, f"NAK {heard[0][0]:.1f} s after the last bytes, before 500 ms"
    assert after[:1] == bytes((ACK,)) and [p[:6] for p in answers(after[1:])] == [b"GTS000"]
