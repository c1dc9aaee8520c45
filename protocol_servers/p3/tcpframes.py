"""P3 framed TCP, sans-I/O: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.

payworks-p3.md §2.2. The decoder takes whatever bytes arrived and returns whole frames;
it never reads a socket. What the spec leaves open is decided here (decision §15.1):

* the length counts the JSON bytes only, not the prefix;
* a length of 0 or above the limit cannot be trusted to find the next frame, so it is
  answered with an error and the connection closes (:class:`FrameError` ``fatal``);
* a frame whose bytes are not UTF-8 or not JSON keeps the stream in step: it gets an
  error response and the connection stays open;
* a length that promises more bytes than arrive (it "lies") leaves the decoder waiting;
  the connection gives up after ``tcp_frame_timeout`` with an error and closes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PREFIX = 4


@dataclass(frozen=True)
class FrameError:
    reason: str
    fatal: bool = True


def encode(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


class FrameDecoder:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self.failed = False

    @property
    def partial(self) -> bool:
        """Bytes of an unfinished frame are waiting."""
        return bool(self._buf)

    def feed(self, data: bytes) -> list[bytes | FrameError]:
        if self.failed:
            return []
        self._buf += data
        out: list[bytes | FrameError] = []
        while len(self._buf) >= PREFIX:
            (length,) = struct.unpack(">I", self._buf[:PREFIX])
            if length == 0:
                self.failed = True
                out.append(FrameError("frame length 0: a P3 frame carries one JSON message"))
                break
            if length > self.max_bytes:
                self.failed = True
                out.append(FrameError(
                    f"frame length {length} is over the {self.max_bytes} byte limit"))
                break
            if len(self._buf) < PREFIX + length:
                break
            out.append(bytes(self._buf[PREFIX:PREFIX + length]))
            del self._buf[:PREFIX + length]
        return out
