"""A notification and the response read in one chunk (a pty or USB adapter buffers them
together) must both reach the host: the response is not lost behind the NTM."""

from __future__ import annotations

from virtual_devices.abecs.link import HostLink, ResponseReceived, frame


def test_ntm_and_response_in_one_chunk() -> None:
    link = HostLink()
    link.send_command(b"GCR00", blocking=True)
    link.receive_data(b"\x06")
    out = link.receive_data(frame(b"NTM000005HELLO") + frame(b"GCR000"))
    got = [o.pktdata for o in out if isinstance(o, ResponseReceived)]
    assert got == [b"NTM000005HELLO"]
    out = link.continue_waiting()
    got = [o.pktdata for o in out if isinstance(o, ResponseReceived)]
    assert got == [b"GCR000"]
    assert not link.busy


def test_odd_length_pan_in_track2_equivalent_is_masked() -> None:
    """Tag 57 of a 15-digit Amex card: PAN, separator D, expiry... in packed BCD."""
    from simulator.masking import Redactor

    r = Redactor()
    r.add_pan("374245001751006")
    raw = bytes.fromhex("5713374245001751006d301220110000925000000f")
    assert "374245001751006" not in r.hex(raw)
    assert "374245" in r.hex(raw) and "1006" in r.hex(raw)
