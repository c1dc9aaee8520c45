"""Transcript labels for ABECS bytes: control bytes by name, frames by command and status.

Encrypted frames are decoded when the labeler is given a way to reach the session key
(the pinpad's), so a secure run still shows ``GCR 000`` rather than opaque bytes; the
transcript's redactor masks card numbers in the label like everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from virtual_devices.abecs.fields import label as pkt_label
from virtual_devices.abecs.link import DC2, Control, Frame, FrameReader
from virtual_devices.abecs.secure import SecureError, SecureSession

NAMES = {0x04: "EOT", 0x06: "ACK", 0x15: "NAK", 0x18: "CAN"}


class FrameLabeler:
    def __init__(self, session: Callable[[], SecureSession | None] | None = None) -> None:
        self._session = session

    def __call__(self, chunk: object) -> str:
        if not isinstance(chunk, bytes | bytearray):
            return ""
        reader = FrameReader()
        parts: list[str] = []
        for item in reader.feed(bytes(chunk)):
            if isinstance(item, Control):
                parts.append(NAMES.get(item.byte, f"0x{item.byte:02X}"))
            elif isinstance(item, Frame):
                parts.append(self._frame(item))
        if reader.in_frame:
            parts.append("partial packet")
        return "; ".join(parts)

    def _frame(self, item: Frame) -> str:
        if not item.ok:
            return f"bad packet ({item.reason})"
        data = item.pktdata
        if data[:1] == bytes((DC2,)) and self._session is not None:
            session = self._session()
            if session is not None:
                try:
                    return "[sec] " + pkt_label(session.open(data))
                except SecureError:
                    return "[sec] undecodable"
        return pkt_label(data)
