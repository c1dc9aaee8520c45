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
