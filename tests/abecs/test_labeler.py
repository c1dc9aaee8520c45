"""Transcript labels of ABECS chunks, clear and encrypted, as the session changes."""

from __future__ import annotations

from virtual_devices.abecs.labeler import FrameLabeler
from virtual_devices.abecs.link import ACK, frame
from virtual_devices.abecs.secure import SecureSession


def test_a_chunk_is_labeled_under_the_session_in_force() -> None:
    first, second = SecureSession(bytes(range(16))), SecureSession(bytes(16))
    holder: list[SecureSession | None] = [None]
    label = FrameLabeler(lambda: holder[0])
    sealed = frame(first.seal(b"DSP000"))
    clear = bytes((ACK,)) + frame(b"OPN000")

    assert label(clear) == "ACK; OPN000"
    assert label(clear) == "ACK; OPN000"  # again, from memory
    assert not label(sealed).startswith("[sec]")  # no session yet: shown as it is
    holder[0] = first
    assert label(sealed) == "[sec] DSP000"  # the session arrived: decrypted now
    assert label(sealed) == "[sec] DSP000"
    holder[0] = second
    assert label(sealed) == "[sec] undecodable"  # another key: not the first label
    holder[0] = first
    assert label(sealed) == "[sec] DSP000"
    assert label(bytearray(clear)) == "ACK; OPN000"
    assert label("text") == ""


def test_many_chunks_do_not_grow_the_memory_without_bound() -> None:
    label = FrameLabeler()
    for n in range(100):
        assert label(frame(f"DSP{n:03d}".encode())).startswith("DSP")
    assert len(label._recent) <= 16


def test_what_was_typed_at_gcd_is_never_in_a_label() -> None:
    session = SecureSession(bytes(range(16)))
    label = FrameLabeler(lambda: session)
    answer = b"GCD000020\x80\x4d\x00\x104761739001010010"
    code = b"GCD000007\x80\x4d\x00\x03326"
    asked = b"GCD016" + bytes.fromhex("000C00013C000E00010A000B00020032")
    assert label(frame(answer)) == "GCD000 (typed value not shown)"
    assert label(frame(session.seal(code))) == "[sec] GCD000 (typed value not shown)"
    assert label(frame(asked)).startswith("GCD016")  # the request shows as it is
    assert label(frame(b"GCD013")) == "GCD013"  # cancelled: nothing was typed
