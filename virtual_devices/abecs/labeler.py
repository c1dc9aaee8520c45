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


_RECENT = 16  # packets remembered: each is labeled when sent and again when it arrives


class FrameLabeler:
    """Labels byte chunks for the transcript; one labeler serves both ends of a line.

    Every packet is labeled twice, by the end that writes it and by the end it reaches,
    often with other packets in between. A packet's label depends only on its bytes
    and on the session object that decrypts it (a :class:`SecureSession` never changes
    its key), so the last few labels are kept, each with the session it was made under:
    decrypting and decoding fields once per packet instead of twice.
    """

    def __init__(self, session: Callable[[], SecureSession | None] | None = None) -> None:
        self._session = session
        self._recent: dict[bytes, tuple[SecureSession | None, str]] = {}

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
        session = None
        if data[:1] == bytes((DC2,)) and self._session is not None:
            session = self._session()
        known = self._recent.get(data)
        if known is not None and known[0] is session:
            return known[1]
        label = self._decode(data, session)
        if len(self._recent) >= _RECENT:
            del self._recent[next(iter(self._recent))]
        self._recent[data] = (session, label)
        return label

    @staticmethod
    def _decode(data: bytes, session: SecureSession | None) -> str:
        if session is not None:
            try:
                return "[sec] " + pkt_label(session.open(data))
            except SecureError:
                return "[sec] undecodable"
        return pkt_label(data)
