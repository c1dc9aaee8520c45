"""Byte-level helpers for the ABECS cases."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from virtual_devices.abecs.link import ACK, NAK, Frame, FrameReader, frame

Gen = Generator[Any, Any, Any]


def listen(device: Any, data: bytes, seconds: float) -> Gen:
    """Write ``data`` raw, wait ``seconds``, return what the pinpad sent meanwhile."""
    mark = device.host.send_raw(data)
    yield device.world.timeout(seconds)
    return bytes(device.host.received[mark:])


def frames_in(data: bytes) -> list[bytes]:
    """Good packets (unescaped PKTDATA) found in raw bytes."""
    return [f.pktdata for f in FrameReader().feed(data) if isinstance(f, Frame) and f.ok]


def acked(data: bytes) -> bool:
    return data[:1] == bytes((ACK,))


def naked(data: bytes) -> bool:
    return data[:1] == bytes((NAK,))


def bad_crc(pktdata: bytes) -> bytes:
    wire = bytearray(frame(pktdata))
    wire[-1] ^= 0x5A
    return bytes(wire)


GTS = b"GTS00200"
