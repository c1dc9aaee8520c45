"""ABECS field formats (mpos-bridge.md §4.3) and the command/response envelope.

A = ASCII left-aligned, space padded; S = the same in the pinpad charset; N = digits
right-aligned, zero padded; H = ASCII hex. A command is ``CMD_ID`` + blocks of
``LEN(3) + data``; a response is ``RSP_ID`` + ``RSP_STAT(3)`` + blocks, and a response
with a status other than ``000`` is exactly six bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CodecError(ValueError):
    """Malformed application data; ``status`` is the ABECS code to answer with."""

    def __init__(self, message: str, status: int = 11) -> None:
        super().__init__(message)
        self.status = status


Spec = tuple[str, str, int]  # (name, kind A/S/N/H, width in characters)


def pack_field(kind: str, width: int, value: object) -> bytes:
    if kind == "N":
        text = str(int(value)) if not isinstance(value, str) else value  # type: ignore[call-overload]
        if not text.isdigit() or len(text) > width:
            raise CodecError(f"numeric field of width {width} cannot hold {text!r}")
        return text.zfill(width).encode("ascii")
    if kind in ("A", "S"):
        text = str(value)
        raw = text.encode("latin-1", errors="replace")[:width]
        return raw.ljust(width, b" ")
    if kind == "H":
        text = value.hex().upper() if isinstance(value, bytes) else str(value).upper()
        if len(text) > width:
            raise CodecError(f"hex field of width {width} cannot hold {len(text)} digits")
        return text.ljust(width, "0").encode("ascii")
    raise ValueError(f"unknown field kind {kind!r}")


def pack(specs: Sequence[Spec], values: dict[str, object]) -> bytes:
    return b"".join(pack_field(k, w, values[n]) for n, k, w in specs)


def unpack(specs: Sequence[Spec], data: bytes, strict: bool = True) -> tuple[dict[str, str], int]:
    """Read fixed fields from ``data``; returns the text values and bytes consumed."""
    out: dict[str, str] = {}
    pos = 0
    for name, kind, width in specs:
        raw = data[pos : pos + width]
        if len(raw) < width:
            raise CodecError(f"field {name} cut short", 11)
        try:
            text = raw.decode("latin-1")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes anything
            raise CodecError(str(exc)) from exc
        if strict and kind == "N" and not text.isdigit():
            raise CodecError(f"field {name} is not numeric: {text!r}")
        if strict and kind == "H":
            try:
                bytes.fromhex(text)
            except ValueError:
                raise CodecError(f"field {name} is not hex") from None
        out[name] = text
        pos += width
    return out, pos


def num(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CodecError(f"not a number: {text!r}") from None


def block(data: bytes) -> bytes:
    if len(data) > 999:
        raise CodecError("a block holds at most 999 bytes")
    return f"{len(data):03d}".encode("ascii") + data


def split_blocks(data: bytes) -> list[bytes]:
    blocks: list[bytes] = []
    pos = 0
    while pos < len(data):
        head = data[pos : pos + 3]
        if len(head) < 3 or not head.isdigit():
            raise CodecError("block length is not three digits")
        n = int(head)
        body = data[pos + 3 : pos + 3 + n]
        if len(body) != n:
            raise CodecError("block shorter than its length")
        blocks.append(body)
        pos += 3 + n
    return blocks


def _cmd_id(data: bytes) -> str:
    ident = data[:3]
    if len(ident) < 3 or not ident.isalpha() or not ident.isupper():
        raise CodecError("command id is not three capital letters", 10)
    return ident.decode("ascii")


@dataclass(frozen=True)
class Command:
    cmd_id: str
    blocks: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return self.cmd_id.encode("ascii") + b"".join(block(b) for b in self.blocks)

    @classmethod
    def decode(cls, data: bytes) -> Command:
        ident = _cmd_id(data)
        return cls(ident, tuple(split_blocks(data[3:])))

    @property
    def data(self) -> bytes:
        return self.blocks[0] if self.blocks else b""


@dataclass(frozen=True)
class Response:
    cmd_id: str
    status: int = 0
    blocks: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        head = f"{self.cmd_id}{self.status:03d}".encode("ascii")
        if self.status != 0:
            return head  # status-only: exactly six bytes
        return head + b"".join(block(b) for b in self.blocks)

    @classmethod
    def decode(cls, data: bytes) -> Response:
        ident = _cmd_id(data)
        stat = data[3:6]
        if len(stat) < 3 or not stat.isdigit():
            raise CodecError("response status is not three digits")
        return cls(ident, int(stat), tuple(split_blocks(data[6:])))

    @property
    def data(self) -> bytes:
        return self.blocks[0] if self.blocks else b""


def label(data: bytes, limit: int = 48) -> str:
    """A one-line view of clear PKTDATA for transcripts: the text, cut at ``limit``."""
    if not data:
        return ""
    if data[0] == 0x12:
        return f"encrypted packet ({len(data) - 1} bytes)"
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[:limit])
    more = f"... ({len(data)} bytes)" if len(data) > limit else ""
    return text + more
