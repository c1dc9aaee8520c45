"""What the 2.12 commands remember between commands (one per pinpad)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from virtual_devices.abecs.extended.media_store import MediaFile, MediaStore

__all__ = ["ExtendedState", "MediaFile", "state"]

@dataclass
class ExtendedState:
    """What these commands remember between commands (on the pinpad, one per device)."""

    tracks: tuple[str, str, str] | None = None  # the last CEX/GCX read, for GTK (once)
    pan: str = ""
    gcx_card_type: int | None = None
    files: MediaStore = field(default_factory=MediaStore)  # non-volatile (§6.6.3)
    loading: tuple[str, int, int, int] | None = None  # name, size, crc, kind
    received: bytearray = field(default_factory=bytearray)
    dwk_sequence: int = 0  # the N9 number of §5.3.3, one per modality-2 DWK


def state(pinpad: Any) -> ExtendedState:
    got = getattr(pinpad, "extended", None)
    if got is None:
        got = ExtendedState()
        pinpad.extended = got
    return got
