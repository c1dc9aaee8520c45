"""The fast link code against a byte-at-a-time reference model of the same rules.

The reader copies runs of plain bytes as slices and the CRC runs in C; both must be
indistinguishable from reading one byte at a time and computing the CRC bit by bit:
same frames, same control bytes, same reader state after every chunk, same wire bytes.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from virtual_devices.abecs.link import (
    CAN,
    CAN_INSIDE,
    DC2,
    DC3,
    ETB,
    MAX_PKTDATA,
    SYN,
    Control,
    Frame,
    FrameReader,
    crc16,
    escape,
    frame,
)


def crc16_bitwise(data: bytes, crc: int = 0) -> int:
    """CRC-16/XMODEM one bit at a time, as the polynomial is written down."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def escape_bytewise(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        out += bytes((DC3, b + 0x20)) if b in (DC3, SYN, ETB) else bytes((b,))
    return bytes(out)


class ReferenceReader:
    """The receive rules of :class:`FrameReader`, one byte at a time."""

    def __init__(self) -> None:
        self.state = "idle"
        self.buf = bytearray()
        self.crc = 0
        self.overflow = False
        self.trailing_can = False

    def reset(self) -> None:
        self.state = "idle"
        self.buf.clear()
        self.overflow = False
        self.trailing_can = False

    def append(self, b: int) -> None:
        if len(self.buf) >= MAX_PKTDATA:
            self.overflow = True
        else:
            self.buf.append(b)

    def feed(self, data: bytes) -> list[Frame | Control]:
        out: list[Frame | Control] = []
        for b in data:
            if self.state == "idle":
                if b == SYN:
                    self.state = "data"
                    self.buf.clear()
                    self.overflow = False
                elif b in (0x06, 0x15, 0x04, CAN):
                    out.append(Control(b))
            elif self.state == "data":
                if b == ETB:
                    self.state = "crc1"
                elif b == DC3:
                    self.state = "esc"
                elif b == SYN:
                    out.append(Frame(bytes(self.buf), False, "SYN inside packet"))
                    self.buf.clear()
                    self.overflow = False
                elif b == CAN and self.buf[:1] != bytes((DC2,)):
                    out.append(Frame(bytes(self.buf), False, CAN_INSIDE))
                    self.reset()
                    out.append(Control(CAN))
                else:
                    self.trailing_can = b == CAN
                    self.append(b)
            elif self.state == "esc":
                self.append((b - 0x20) & 0xFF)
                self.state = "data"
            elif self.state == "crc1":
                self.crc = b << 8
                self.state = "crc2"
            else:
                self.crc |= b
                pkt, overflow = bytes(self.buf), self.overflow
                self.reset()
                if overflow:
                    out.append(Frame(b"", False, f"packet longer than {MAX_PKTDATA} bytes"))
                elif not pkt:
                    out.append(Frame(pkt, False, "empty packet"))
                elif crc16_bitwise(pkt + bytes((ETB,))) != self.crc:
                    out.append(Frame(pkt, False, "CRC mismatch"))
                else:
                    out.append(Frame(pkt, True))
        return out


def state_of(reader: FrameReader) -> tuple[str, bytes, bool, bool]:
    return (reader.state.value, bytes(reader._buf), reader._overflow, reader.trailing_can)


def model_state(ref: ReferenceReader) -> tuple[str, bytes, bool, bool]:
    return (ref.state, bytes(ref.buf), ref.overflow, ref.trailing_can)


# pieces a line carries: good frames (clear and encrypted), the special bytes alone,
# noise, and now and then a very long packet
special = st.sampled_from([0x04, 0x06, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18])
pktdata = st.one_of(
    st.binary(min_size=1, max_size=80),
    st.lists(st.sampled_from([0x18, 0x41, 0x13, 0x16, 0x17, 0x12]), min_size=1, max_size=20)
    .map(bytes),
)
encrypted = pktdata.map(lambda b: bytes((DC2,)) + b)
piece = st.one_of(
    pktdata.map(frame),
    encrypted.map(frame),
    encrypted.map(lambda b: frame(b)[:-3]),  # a packet cut short before its ETB
    special.map(lambda b: bytes((b,))),
    st.binary(max_size=40),
    st.lists(special, min_size=1, max_size=6).map(bytes),
    st.integers(MAX_PKTDATA - 2, MAX_PKTDATA + 3).map(
        lambda n: bytes((SYN,)) + b"A" * n + bytes((ETB, 0, 0))
    ),
)


@settings(max_examples=300)
@given(
    st.lists(piece, max_size=12),
    st.lists(st.one_of(st.integers(1, 64), st.just(10_000)), min_size=1, max_size=20),
)
def test_reader_matches_the_byte_at_a_time_model(
    pieces: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(pieces)
    fast, ref = FrameReader(), ReferenceReader()
    at, k = 0, 0
    while at < len(stream):
        chunk = stream[at : at + cuts[k % len(cuts)]]
        at += len(chunk)
        k += 1
        assert fast.feed(chunk) == ref.feed(chunk)
        assert state_of(fast) == model_state(ref)


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_crc_matches_the_bitwise_polynomial(data: bytes, start: int) -> None:
    assert crc16(data, start) == crc16_bitwise(data, start)


@given(st.binary(max_size=300))
def test_escape_matches_bytewise(data: bytes) -> None:
    assert escape(data) == escape_bytewise(data)
    assert escape(bytearray(data)) == escape_bytewise(data)
