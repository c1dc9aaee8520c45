"""What the 2.12 commands remember between commands (one per pinpad)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MediaFile:
    name: str
    kind: int  # 01 PNG, 02 JPG, 03 GIF
    data: bytes


@dataclass
class ExtendedState:
    """What these commands remember between commands (on the pinpad, one per device)."""

    tracks: tuple[str, str, str] | None = None  # the last CEX/GCX read, for GTK (once)
    pan: str = ""
    gcx_card_type: int | None = None
    files: dict[str, MediaFile] = field(default_factory=dict)  # non-volatile
    loading: tuple[str, int, int, int] | None = None  # name, size, crc, kind
    received: bytearray = field(default_factory=bytearray)
    dwk_sequence: int = 0  # the N9 number of §5.3.3, one per modality-2 DWK


def state(pinpad: Any) -> ExtendedState:
    got = getattr(pinpad, "extended", None)
    if got is None:
        got = ExtendedState()
        pinpad.extended = got
    return got
