"""Transcript labels for ABECS bytes: control bytes by name, frames by command and status.

Encrypted frames are decoded when the labeler is given a way to reach the session key
(the pinpad's), so a secure run still shows ``GCR 000`` rather than opaque bytes; the
transcript's redactor masks card numbers in the label like everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from virtual_devices.abecs.fields import label as pkt_label
from virtual_devices.abecs.link import DC2, Control, Frame, FrameReader
from virtual_devices.abecs.secure import SecureError, SecureSession

NAMES = {0x04: "EOT", 0x06: "ACK", 0x15: "NAK", 0x18: "CAN"}


def _no_label() -> str:
    return ""


_RECENT = 16  # chunks remembered: each is labeled when sent and again when it arrives


class FrameLabeler:
    """Labels byte chunks for the transcript; one labeler serves both ends of a line.

    Every chunk is labeled twice, by the end that writes it and by the end it reaches,
    often with other chunks in between. A chunk's label depends only on its bytes and,
    when it holds encrypted packets, on the session object that decrypts them (a
    :class:`SecureSession` never changes its key). So the last few labels are kept with
    the session they were made under, and a chunk seen again under the same session
    (or needing none) is not parsed, decrypted and decoded a second time.
    """

    def __init__(self, session: Callable[[], SecureSession | None] | None = None) -> None:
        self._session = session
        # chunk -> (label, whether it asked for the session, the session it got)
        self._recent: dict[bytes, tuple[str, bool, SecureSession | None]] = {}
        self._asked = False
        self._asked_for: SecureSession | None = None
        self._now: SecureSession | None = None  # the session the chunk being labeled met

    def __call__(self, chunk: object) -> str:
        return self.deferred(chunk)()

    def deferred(self, chunk: object) -> Callable[[], str]:
        """The label of ``chunk`` as it reads now, made when it is called.

        The transcript masks an entry when it is first read, often never; the session
        that decrypts the chunk is the one the pinpad holds now, so it is taken now.
        """
        if not isinstance(chunk, (bytes, bytearray)):  # noqa: UP038 - a tuple is faster
            return _no_label
        if type(chunk) is not bytes:
            chunk = bytes(chunk)
        session = self._session() if self._session is not None else None
        return partial(self._label_under, chunk, session)

    def _label_under(self, data: bytes, session: SecureSession | None) -> str:
        known = self._recent.get(data)
        if known is not None:
            label, asked, had = known
            # the same bytes ask for the session exactly when they did the first time
            if not asked or (self._session is not None and had is session):
                return label
        self._asked, self._asked_for, self._now = False, None, session
        label = self._label(data)
        if len(self._recent) >= _RECENT:
            del self._recent[next(iter(self._recent))]
        self._recent[data] = (label, self._asked, self._asked_for)
        return label

    def _label(self, data: bytes) -> str:
        reader = FrameReader()
        parts: list[str] = []
        for item in reader.feed(data):
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
            session = self._now
            self._asked, self._asked_for = True, session
            if session is not None:
                try:
                    return "[sec] " + _clear_label(session.open(data))
                except SecureError:
                    return "[sec] undecodable"
        return _clear_label(data)


def _clear_label(data: bytes) -> str:
    """A clear packet's label. GCD answers carry what was typed on the keypad (a card
    number, a security code): a label never shows it; the raw bytes are masked too."""
    if data[:3] == b"GCD" and len(data) > 9 and data[3:9].isdigit():
        # an answer: status and length digits, then the value (a command's length is
        # followed by its binary parameter ids, which are not digits)
        return f"GCD{data[3:6].decode('ascii')} (typed value not shown)"
    return pkt_label(data)
