"""Sans-I/O framing codecs for byte streams (TCP, serial): bytes in, frames out.

A codec never touches a socket or the clock. ``feed(data)`` takes whatever bytes
arrived (any split, any merge) and returns the frames completed so far;
``encode(frame)`` returns the bytes to put on the wire.

Malformed input raises :class:`FramingError`. The error carries the frames that were
complete before the fault (``frames``), the offending bytes (``data``) and whether
the codec could resynchronise (``recoverable``):

* a recoverable codec (STX/ETX, newline) has already thrown away the bad bytes and
  kept the rest of the input; call ``feed(b"")`` to continue decoding it;
* after an unrecoverable error (a bad length prefix: nothing in the stream says where
  the next frame starts) every later ``feed`` raises the same error again.

:meth:`Framing.events` wraps that loop and returns frames and errors in stream order;
it is what the TCP port uses (see :mod:`simulator.ports.tcp` for how an error reaches
a server).
"""

from __future__ import annotations

import struct
from typing import ClassVar

Frame = bytes

STX = 0x02
ETX = 0x03

#: 1 MiB, the cap the P3 note (payworks-p3.md §3) suggests for a reference server:
#: large enough for a base64 signature image, small enough to refuse a garbage prefix.
DEFAULT_MAX_LENGTH = 1 << 20


class FramingError(ValueError):
    """Input that is not a valid frame stream.

    ``frames``: frames completed before the error (deliver them first);
    ``data``: the offending bytes (for a transcript, and for a server's error reply);
    ``recoverable``: False when the stream cannot be resynchronised.
    """

    def __init__(
        self,
        message: str,
        *,
        data: bytes = b"",
        frames: list[Frame] | None = None,
        recoverable: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data = bytes(data)
        self.frames: list[Frame] = list(frames or [])
        self.recoverable = recoverable

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FramingError)
            and self.message == other.message
            and self.data == other.data
            and self.recoverable == other.recoverable
        )

    def __hash__(self) -> int:
        return hash((self.message, self.data, self.recoverable))


class Framing:
    """Base class: a stateful decoder plus a stateless encoder."""

    name: ClassVar[str] = "framing"

    def __init__(self) -> None:
        self._buf = bytearray()
        self._dead: FramingError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return complete frames, or raise :class:`FramingError`."""
        if self._dead is not None:
            raise FramingError(
                self._dead.message, data=bytes(data), recoverable=False
            )
        self._buf += data
        frames: list[Frame] = []
        try:
            self._decode(frames)
        except FramingError as exc:
            exc.frames = frames + exc.frames
            if not exc.recoverable:
                self._dead = exc
                self._buf.clear()
            raise
        return frames

    def events(self, data: bytes) -> list[Frame | FramingError]:
        """Frames and errors in the order they occur in the stream; never raises."""
        out: list[Frame | FramingError] = []
        chunk = data
        while True:
            try:
                out.extend(self.feed(chunk))
                return out
            except FramingError as exc:
                out.extend(exc.frames)
                exc.frames = []
                out.append(exc)
                if not exc.recoverable:
                    return out
                chunk = b""

    @property
    def broken(self) -> bool:
        """True after an unrecoverable error: the stream has no frame boundaries left."""
        return self._dead is not None

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)

    def encode(self, frame: Frame) -> bytes:
        raise NotImplementedError

    def _decode(self, frames: list[Frame]) -> None:
        raise NotImplementedError


class RawFraming(Framing):
    """No framing: every chunk that arrives is passed on as it is."""

    name = "raw"

    def _decode(self, frames: list[Frame]) -> None:
        if self._buf:
            frames.append(bytes(self._buf))
            self._buf.clear()

    def encode(self, frame: Frame) -> bytes:
        return bytes(frame)


class LengthPrefixFraming(Framing):
    """A 4-byte big-endian unsigned length, then that many payload bytes.

    The length counts payload bytes only (payworks-p3.md §3). A length of zero is
    refused unless ``allow_empty``: no documented protocol sends an empty frame, and
    a zero prefix is the commonest sign of a peer speaking something else. A length
    above ``max_length`` is refused *before* buffering the payload, so a garbage
    prefix cannot make the receiver wait for (or allocate) gigabytes. Both errors are
    unrecoverable: a length-prefixed stream has no resynchronisation marker.
    """

    name = "length-prefix"
    _HEADER = struct.Struct(">I")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH, allow_empty: bool = False) -> None:
        super().__init__()
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self.max_length = max_length
        self.allow_empty = allow_empty

    def _decode(self, frames: list[Frame]) -> None:
        buf = self._buf
        while len(buf) >= 4:
            (length,) = self._HEADER.unpack_from(buf)
            if length > self.max_length:
                raise FramingError(
                    f"length prefix {length} exceeds the maximum of {self.max_length} bytes",
                    data=bytes(buf[:4]),
                    recoverable=False,
                )
            if length == 0 and not self.allow_empty:
                raise FramingError(
                    "length prefix 0: empty frames are not allowed",
                    data=bytes(buf[:4]),
                    recoverable=False,
                )
            if len(buf) < 4 + length:
                return
            frames.append(bytes(buf[4 : 4 + length]))
            del buf[: 4 + length]

    def encode(self, frame: Frame) -> bytes:
        n = len(frame)
        if n > self.max_length:
            raise FramingError(f"frame of {n} bytes exceeds the maximum of {self.max_length}")
        if n == 0 and not self.allow_empty:
            raise FramingError("empty frames are not allowed")
        return self._HEADER.pack(n) + bytes(frame)


class StxEtxFraming(Framing):
    """``STX payload ETX``, no length and no checksum (Valor TCP, semi-and-websockets A.3).

    Real receivers of this framing hunt for STX: bytes before an STX are noise and
    are thrown away. We report them (``data outside STX/ETX``) rather than drop them
    silently, so a server can tell a peer that sent bare JSON. An STX inside an open
    frame means the previous frame was cut short; it is reported and the new STX
    starts a fresh frame. A frame longer than ``max_length`` without ETX is reported
    and skipped up to the next STX. All of these are recoverable.
    """

    name = "stx-etx"

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__()
        self.max_length = max_length

    def _decode(self, frames: list[Frame]) -> None:
        buf = self._buf
        while buf:
            if buf[0] != STX:
                cut = buf.find(STX)
                junk = bytes(buf) if cut < 0 else bytes(buf[:cut])
                del buf[: len(junk)]
                raise FramingError(f"{len(junk)} byte(s) of data outside STX/ETX", data=junk)
            end = buf.find(ETX, 1)
            restart = buf.find(STX, 1, end if end >= 0 else len(buf))
            if restart >= 0:
                cut_short = bytes(buf[:restart])
                del buf[:restart]
                raise FramingError(
                    f"STX inside an open frame: {len(cut_short) - 1} byte(s) without ETX dropped",
                    data=cut_short,
                )
            if end < 0:
                if len(buf) - 1 > self.max_length:
                    skipped = bytes(buf)
                    buf.clear()
                    raise FramingError(
                        f"frame exceeds the maximum of {self.max_length} bytes without ETX",
                        data=skipped[:16],
                    )
                return
            if end - 1 > self.max_length:
                skipped = bytes(buf[: end + 1])
                del buf[: end + 1]
                raise FramingError(
                    f"frame of {end - 1} bytes exceeds the maximum of {self.max_length}",
                    data=skipped[:16],
                )
            frames.append(bytes(buf[1:end]))
            del buf[: end + 1]

    def encode(self, frame: Frame) -> bytes:
        if STX in frame or ETX in frame:
            raise FramingError("payload contains STX or ETX and cannot be framed")
        if len(frame) > self.max_length:
            raise FramingError(f"frame of {len(frame)} bytes exceeds the maximum")
        return bytes([STX]) + bytes(frame) + bytes([ETX])


class NewlineFraming(Framing):
    """One frame per line, ended by LF.

    A CR before the LF is dropped (peers written on Windows send CRLF), and empty
    lines are skipped: line protocols treat a bare newline as a keep-alive, not as a
    message. A line longer than ``max_length`` is reported once and skipped up to
    its LF (recoverable).
    """

    name = "newline"

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        super().__init__()
        self.max_length = max_length
        self._skipping = False

    def _decode(self, frames: list[Frame]) -> None:
        buf = self._buf
        while True:
            nl = buf.find(b"\n")
            if self._skipping:
                if nl < 0:
                    buf.clear()
                    return
                del buf[: nl + 1]
                self._skipping = False
                continue
            if nl < 0:
                if len(buf) > self.max_length:
                    head = bytes(buf[:16])
                    buf.clear()
                    self._skipping = True
                    raise FramingError(
                        f"line exceeds the maximum of {self.max_length} bytes", data=head
                    )
                return
            line = bytes(buf[:nl])
            del buf[: nl + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_length:
                raise FramingError(
                    f"line of {len(line)} bytes exceeds the maximum of {self.max_length}",
                    data=line[:16],
                )
            if line:
                frames.append(line)

    def encode(self, frame: Frame) -> bytes:
        if b"\n" in frame:
            raise FramingError("payload contains a newline and cannot be framed")
        return bytes(frame) + b"\n"


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "ETX",
    "STX",
    "Frame",
    "Framing",
    "FramingError",
    "LengthPrefixFraming",
    "NewlineFraming",
    "RawFraming",
    "StxEtxFraming",
]
