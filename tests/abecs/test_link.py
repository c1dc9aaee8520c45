"""The sans-I/O link layer: framing, CRC, ACK/NAK, retries, CAN, resynchronisation."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from virtual_devices.abecs.link import (
    ACK,
    CAN,
    EOT,
    NAK,
    Acked,
    Arm,
    Cancelled,
    CancelReceived,
    Disarm,
    Failed,
    FrameReader,
    HostLink,
    PacketReceived,
    PinpadLink,
    ResponseReceived,
    Send,
    crc16,
    frame,
)


def sent(outputs: Sequence[object]) -> bytes:
    return b"".join(o.data for o in outputs if isinstance(o, Send))


def test_crc_vectors_of_the_note() -> None:
    assert crc16(b"OPN\x17") == 0xA8A9
    assert crc16(b"DSP000\x17") == 0x3963
    assert frame(b"OPN") == bytes.fromhex("164F504E17A8A9")


def test_special_bytes_are_escaped_and_crc_is_raw() -> None:
    wire = frame(b"\x13\x16\x17A")
    assert wire[1:8] == bytes.fromhex("13331336133741")
    assert wire[8] == 0x17 and len(wire) == 11


# PKTDATA is ASCII in clear (§4.3) or DC2 + any bytes when encrypted (§4.5)
PKTDATA = st.one_of(
    st.binary(min_size=1, max_size=300).map(lambda b: bytes(0x20 + x % 0x5F for x in b)),
    st.binary(max_size=300).map(lambda b: b"\x12" + b),
)


@given(PKTDATA, st.lists(st.integers(1, 50), max_size=20))
def test_any_packet_survives_any_chunking(pkt: bytes, cuts: list[int]) -> None:
    wire = frame(pkt)
    reader = FrameReader()
    frames = []
    pos = 0
    for c in cuts + [len(wire)]:
        frames += reader.feed(wire[pos : pos + c])
        pos += c
    frames += reader.feed(wire[pos:])
    assert [(f.pktdata, f.ok) for f in frames] == [(pkt, True)]  # type: ignore[union-attr]


def test_pinpad_acks_good_packet_and_naks_bad_crc() -> None:
    link = PinpadLink()
    out = link.receive_data(frame(b"DSP000"))
    assert sent(out) == bytes((ACK,))
    assert PacketReceived(b"DSP000") in out
    bad = bytearray(frame(b"DSP000"))
    bad[-1] ^= 1
    out = link.receive_data(bytes(bad))
    assert sent(out) == bytes((NAK,))
    assert not any(isinstance(o, PacketReceived) for o in out)


def test_pinpad_resends_last_response_on_nak_and_ignores_nak_without_one() -> None:
    link = PinpadLink()
    assert sent(link.receive_data(bytes((NAK,)))) == b""
    wire = sent(link.send_packet(b"DSP000"))
    assert sent(link.receive_data(bytes((NAK,)))) == wire


def test_can_answered_by_eot_even_in_the_middle_of_resync() -> None:
    link = PinpadLink()
    link.receive_data(b"\x16GCR0")  # start of a packet
    out = link.timer_expired()  # inter-byte timeout: resynchronising
    assert link.resyncing and any(isinstance(o, Arm) for o in out)
    out = link.receive_data(bytes((CAN,)))
    assert sent(out) == bytes((EOT,)) and CancelReceived() in out


def test_resync_waits_for_silence_before_nak() -> None:
    link = PinpadLink()
    link.receive_data(b"\x16ABC")
    link.timer_expired()
    out = link.receive_data(b"more noise")  # silence restarts
    assert sent(out) == b"" and isinstance(out[-1], Arm)
    out = link.timer_expired()
    assert sent(out) == bytes((NAK,)) and not link.resyncing
    out = link.receive_data(frame(b"GIN00"))
    assert PacketReceived(b"GIN00") in out


def test_host_resends_on_nak_and_gives_up_after_the_third() -> None:
    link = HostLink()
    wire = sent(link.send_command(b"GTS00"))
    assert sent(link.receive_data(bytes((NAK,)))) == wire
    assert sent(link.receive_data(bytes((NAK,)))) == wire
    out = link.receive_data(bytes((NAK,)))
    assert any(isinstance(o, Failed) for o in out) and not link.busy


def test_host_no_ack_is_an_abort() -> None:
    link = HostLink()
    link.send_command(b"GTS00")
    out = link.timer_expired()
    assert any(isinstance(o, Failed) for o in out)


def test_host_accepts_response_when_ack_was_lost() -> None:
    link = HostLink()
    link.send_command(b"GTS00")
    out = link.receive_data(frame(b"GTS000010ABCDEFGHIJ"))
    assert Acked() in out and ResponseReceived(b"GTS000010ABCDEFGHIJ") in out


def test_host_naks_bad_response_three_times_then_fails() -> None:
    link = HostLink()
    link.send_command(b"GTS00")
    link.receive_data(bytes((ACK,)))
    bad = bytearray(frame(b"GTS000"))
    bad[2] ^= 2
    for _ in range(3):
        assert sent(link.receive_data(bytes(bad))) == bytes((NAK,))
    out = link.receive_data(bytes(bad))
    assert any(isinstance(o, Failed) for o in out)


def test_blocking_command_waits_without_deadline_and_cancel_retries() -> None:
    link = HostLink()
    link.send_command(b"GCR", blocking=True)
    out = link.receive_data(bytes((ACK,)))
    assert Disarm() in out
    assert sent(link.cancel()) == bytes((CAN,))
    assert sent(link.receive_data(b"\x16junk")) == b""  # ignored while waiting for EOT
    assert sent(link.timer_expired()) == bytes((CAN,))
    assert Cancelled() in link.receive_data(bytes((EOT,)))


def test_can_after_a_clear_packet_cut_short_is_answered_at_once() -> None:
    link = PinpadLink()
    out = link.receive_data(b"\x16GTS00" + bytes((CAN,)))
    assert sent(out) == bytes((EOT,)) and CancelReceived() in out
    assert PacketReceived(b"GTS00200") in link.receive_data(frame(b"GTS00200"))


def test_can_after_a_stalled_encrypted_packet_does_not_extend_the_stall() -> None:
    link = PinpadLink()
    out = link.receive_data(b"\x16\x12\x01\x02")
    assert isinstance(out[-1], Arm)
    out = link.receive_data(bytes((CAN,)))  # may be data: no EOT, and no re-arm
    assert sent(out) == b"" and not any(isinstance(o, Arm) for o in out)
    link.timer_expired()  # the stall times out: resynchronising
    out = link.receive_data(bytes((CAN,)))
    assert sent(out) == bytes((EOT,))
