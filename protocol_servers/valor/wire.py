"""Sans-I/O framing of the Valor semi-integration byte streams (semi-and-websockets.md §A.3).

Valor clients frame the same JSON four ways on a byte stream: bare JSON found by brace
depth, JSON followed by a newline, STX (0x02) + JSON + ETX (0x03) on TCP, and the literal
five-character markers ``<STX>`` / ``<ETX>`` on the USB serial line. One decoder reads all
of them, because a real terminal cannot know which client is on the other end; it tells
the caller which framing each request came in, so the answer goes back the same way.
WebSocket text messages need no decoder (one message, one object): their style is ``ws``.

The decoder never touches a socket or a clock: ``feed(bytes)`` returns :class:`Frame`
and :class:`Junk` items in stream order. Junk (bytes that cannot start a request, an
object that grew past the limit, a wrapper without its closing marker) is reported once
per run so the terminal answers it with one ``STATE -1`` and goes on reading. An object
that never closes is the link's business: it asks :attr:`JsonStreamDecoder.buffered`
and calls :meth:`JsonStreamDecoder.flush` after its partial-frame timeout.

Choice (the note is silent): a bare object is handed on as soon as its closing brace
arrives, because a bare-JSON client waits for the answer and sends nothing more. When
the newline of a "JSON + newline" client arrives only in the next read, that request was
answered bare; from then on the connection counts as a newline client
(:attr:`JsonStreamDecoder.newline_client`) and its answers carry the newline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Style = Literal["ws", "bare", "newline", "stx", "usb"]
STYLES: tuple[Style, ...] = ("ws", "bare", "newline", "stx", "usb")
STX, ETX = 0x02, 0x03
USB_STX, USB_ETX = b"<STX>", b"<ETX>"
WHITESPACE = b" \t\r\n"
#: a request is a few hundred bytes; 64 KiB leaves room for line items and refuses garbage
MAX_OBJECT = 64 * 1024
#: nesting a request never needs (line items are two deep)
MAX_DEPTH = 16


@dataclass(frozen=True)
class Frame:
    """One complete JSON object as it came, and the framing it came in."""

    payload: bytes
    style: Style


@dataclass(frozen=True)
class Junk:
    """Bytes that are not a request frame; ``reason`` is for the transcript (the bytes
    themselves are in it already, as they arrived, so the item does not carry them).

    ``style`` is the framing the bad bytes themselves show, when they show one: inside
    an STX byte or a ``<STX>`` marker, or a line ended by a newline. None when nothing
    in them tells (a bare run of junk, an object that never closed): the answer then
    goes in the connection's last good framing (see :class:`~.session.Session`).
    """

    reason: str
    style: Style | None = None


def encode(payload: bytes, style: Style) -> bytes:
    """The bytes of one frame in ``style`` (a reply in the framing of its request)."""
    if style == "newline":
        return payload + b"\n"
    if style == "stx":
        return bytes([STX]) + payload + bytes([ETX])
    if style == "usb":
        # the USB samples put one space inside each marker (semi-and-websockets.md §A.3)
        return USB_STX + b" " + payload + b" " + USB_ETX
    return payload


class JsonStreamDecoder:
    """Brace-depth, string-aware JSON object reader with the optional Valor wrappers.

    ``strict_stx``: only STX/ETX-wrapped objects (or the USB markers) count; a bare
    object is junk (the "strict STX/ETX" switch of §A.3). ``max_object`` and
    ``max_depth`` bound what one object may hold.
    """

    def __init__(self, strict_stx: bool = False, max_object: int = MAX_OBJECT,
                 max_depth: int = MAX_DEPTH) -> None:
        self.strict_stx = strict_stx
        self.max_object = max_object
        self.max_depth = max_depth
        self.newline_client = False
        self._buf = bytearray()
        self._wrapper: Style = "bare"  # the opening marker of the object being read
        self._start = -1  # index of "{" of the open object, -1 when between objects
        self._scan = 0  # where scanning resumes inside the open object
        self._depth = 0
        self._in_str = False
        self._esc = False
        self._closed_at = -1  # index after "}" while waiting for a closing marker
        self._after_bare = False  # the last frame was bare: a newline now means newline style

    @property
    def buffered(self) -> int:
        """Bytes held for an object or marker that has not finished."""
        return len(self._buf)

    def flush(self) -> list[Frame | Junk]:
        """Give up on whatever is buffered (the partial-frame timeout): one junk item."""
        if not self._buf:
            return []
        style = self._wrapper if self._wrapper != "bare" else None
        self._reset_object()
        self._buf.clear()
        return [Junk("incomplete frame given up", style)]

    def feed(self, data: bytes) -> list[Frame | Junk]:
        self._buf += data
        out: list[Frame | Junk] = []
        while self._step(out):
            pass
        return out

    # -- the scanner -----------------------------------------------------------------
    def _reset_object(self) -> None:
        self._wrapper, self._start, self._scan, self._depth = "bare", -1, 0, 0
        self._in_str = self._esc = False
        self._closed_at = -1

    def _junk(self, out: list[Frame | Junk], n: int, reason: str) -> None:
        """Drop the first ``n`` bytes as one junk item, with the framing they show."""
        style: Style | None = self._wrapper if self._wrapper != "bare" else None
        if style is None and self.strict_stx:
            style = "stx"  # a strict STX/ETX terminal writes nothing else
        elif style is None and self._buf[n - 1] == 0x0A:  # n >= 1: a junk run is never empty
            style = "newline"  # a line that ended in a newline: a newline client's
        out.append(Junk(reason, style))
        del self._buf[:n]
        self._reset_object()

    def _step(self, out: list[Frame | Junk]) -> bool:
        """Consume what can be consumed; False when more bytes are needed."""
        buf = self._buf
        if not buf:
            return False
        if self._closed_at >= 0:
            return self._close_wrapper(out)
        if self._start >= 0:
            return self._scan_object(out)
        # between objects
        b = buf[0]
        if b in WHITESPACE:
            if b == 0x0A and self._after_bare:
                self.newline_client = True
            if b != 0x0D:
                self._after_bare = False
            del buf[:1]
            return True
        self._after_bare = False
        if self._wrapper == "bare" and b == STX:
            self._wrapper = "stx"
            del buf[:1]
            return True
        if self._wrapper == "bare" and b == USB_STX[0]:
            if len(buf) < len(USB_STX) and USB_STX.startswith(bytes(buf)):
                return False
            if buf.startswith(USB_STX):
                self._wrapper = "usb"
                del buf[:len(USB_STX)]
                return True
        if b == ord("{"):
            if self.strict_stx and self._wrapper == "bare":
                self._skip_junk(out, "bare JSON refused: strict STX/ETX framing")
                return True
            self._start, self._scan, self._depth = 0, 0, 0
            return True
        if self._wrapper != "bare":
            # whatever the markers hold is one bad frame: skip through the closing marker
            close = bytes([ETX]) if self._wrapper == "stx" else USB_ETX
            cut = buf.find(close)
            if cut < 0:
                if len(buf) > self.max_object:
                    self._junk(out, len(buf), f"{self._wrapper} frame without its end marker")
                    return True
                return False
            self._junk(out, cut + len(close), f"{self._wrapper} frame holds no JSON object")
            return True
        self._skip_junk(out, "bytes that cannot start a request")
        return True

    def _skip_junk(self, out: list[Frame | Junk], reason: str) -> None:
        """Drop a run of junk up to the next byte that could start a frame (one answer
        per run in what has arrived: on a slow serial line that may be per byte)."""
        buf = self._buf
        i = 1
        while i < len(buf):
            c = buf[i]
            if c == STX or (c == ord("{") and not self.strict_stx) or c == USB_STX[0]:
                break
            i += 1
        self._junk(out, i, reason)

    def _scan_object(self, out: list[Frame | Junk]) -> bool:
        buf = self._buf
        i = self._scan
        n = len(buf)
        depth, in_str, esc = self._depth, self._in_str, self._esc
        while i < n:
            c = buf[i]
            if in_str:
                if esc:
                    esc = False
                elif c == 0x5C:  # backslash
                    esc = True
                elif c == 0x22:
                    in_str = False
            elif c == 0x22:
                in_str = True
            elif c in (0x7B, 0x5B):  # { [
                depth += 1
                if depth > self.max_depth:
                    self._skip_past(out, i, "object nested too deep")
                    return True
            elif c in (0x7D, 0x5D):  # } ]
                depth -= 1
                if depth == 0:
                    self._closed_at = i + 1
                    self._depth = 0
                    return True
            elif c in (STX, ETX):
                # a marker inside an object: the object was cut short; an ETX closes
                # this (bad) frame, an STX opens the next one
                self._junk(out, i + (c == ETX), "control byte inside a JSON object")
                return True
            i += 1
            if i > self.max_object:
                self._skip_past(out, i, f"object longer than {self.max_object} bytes")
                return True
        self._scan, self._depth, self._in_str, self._esc = i, depth, in_str, esc
        return False

    def _skip_past(self, out: list[Frame | Junk], i: int, reason: str) -> None:
        """Refuse the open object: drop it and the rest of this line or frame."""
        buf = self._buf
        cut = i
        while cut < len(buf) and buf[cut] not in (0x0A, STX, ETX):
            cut += 1
        if cut < len(buf) and buf[cut] in (0x0A, ETX):
            cut += 1
        self._junk(out, cut, reason)

    def _close_wrapper(self, out: list[Frame | Junk]) -> bool:
        buf = self._buf
        end = self._closed_at
        payload = bytes(buf[:end])
        rest = end
        while rest < len(buf) and buf[rest] in b" \t":
            rest += 1
        if self._wrapper == "stx":
            if rest >= len(buf):
                return False
            if buf[rest] != ETX:
                self._junk(out, rest, "STX frame without ETX")
                return True
            del buf[:rest + 1]
            self._emit(out, payload, "stx")
            return True
        if self._wrapper == "usb":
            have = bytes(buf[rest:rest + len(USB_ETX)])
            if len(have) < len(USB_ETX) and USB_ETX.startswith(have):
                return False
            if have != USB_ETX:
                self._junk(out, rest, "<STX> frame without <ETX>")
                return True
            del buf[:rest + len(USB_ETX)]
            self._emit(out, payload, "usb")
            return True
        # bare: a newline right behind it makes it a newline frame
        if rest < len(buf) and buf[rest] == 0x0D:
            rest += 1
        if rest < len(buf) and buf[rest] == 0x0A:
            del buf[:rest + 1]
            self.newline_client = True
            self._emit(out, payload, "newline")
            return True
        del buf[:end]
        self._emit(out, payload, "newline" if self.newline_client else "bare")
        self._after_bare = True
        return True

    def _emit(self, out: list[Frame | Junk], payload: bytes, style: Style) -> None:
        self._reset_object()
        out.append(Frame(payload, style))
