"""Magnetic stripe tracks consistent with the chip (ISO/IEC 7813).

The stripe carries the same PAN, expiry, name and service code as the chip
application; the discretionary data holds a PIN verification key indicator, a PVV
placeholder and a CVV computed under the brand's test CVK. The chip's Track 2
Equivalent Data (tag 57) carries the same layout with an iCVV (CVV computed with
service code 999), so a stripe skimmed from chip data does not verify: this is what
real cards do and what an acquirer rule can check.

Tracks are returned without start/end sentinels and LRC, as a reader hands them on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from psec.cvv import generate_cvv

from virtual_devices.emv.crypto import ISSUER_KEYS

__all__ = ["Tracks", "Swipe", "build_tracks", "track2_equivalent", "parse_track2"]


@dataclass(frozen=True)
class Tracks:
    track1: str
    track2: str


@dataclass(frozen=True)
class Swipe:
    """What a reader got from one pass of the stripe; ``None`` = track unreadable."""

    track1: str | None
    track2: str | None

    @property
    def readable(self) -> bool:
        return self.track2 is not None


def _cvv(brand: str, pan: str, yymm: str, service_code: str) -> str:
    return generate_cvv(ISSUER_KEYS[brand].cvk, pan, yymm, service_code)


def _discretionary(brand: str, pan: str, yymm: str, service_code: str, cvv_sc: str) -> str:
    # PVKI (1) + PVV (4) + CVV (3) + zero fill: the common Visa/Mastercard layout.
    return "1" + "0000" + _cvv(brand, pan, yymm, cvv_sc) + "000000"


def build_tracks(brand: str, pan: str, yymm: str, service_code: str, name: str) -> Tracks:
    disc = _discretionary(brand, pan, yymm, service_code, service_code)
    name26 = name[:26].ljust(2)
    t1 = f"B{pan}^{name26}^{yymm}{service_code}{disc}"
    t2 = f"{pan}={yymm}{service_code}{disc}"
    return Tracks(t1, t2)


def track2_equivalent(brand: str, pan: str, yymm: str, service_code: str) -> bytes:
    """Tag 57 value: PAN 'D' YYMM service code discretionary (iCVV), F-padded BCD."""
    disc = _discretionary(brand, pan, yymm, service_code, "999")
    digits = f"{pan}D{yymm}{service_code}{disc}"
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex(digits)


def track1_discretionary(brand: str, pan: str, yymm: str, service_code: str) -> bytes:
    """Tag 9F1F value (ASCII), the chip's copy of track 1 discretionary data."""
    return _discretionary(brand, pan, yymm, service_code, "999").encode()


def parse_track2(track2: str) -> tuple[str, str, str, str]:
    """``(pan, yymm, service_code, discretionary)`` from track 2 text or tag 57 hex."""
    sep = "=" if "=" in track2 else "D"
    pan, rest = track2.upper().rstrip("F").split(sep, 1)
    return pan, rest[:4], rest[4:7], rest[7:]


def damaged(tracks: Tracks, rng: random.Random, damage: float) -> Swipe:
    """One swipe of a stripe that reads nothing with probability ``damage``."""
    if damage > 0 and rng.random() < damage:
        return Swipe(None, None)
    return Swipe(tracks.track1, tracks.track2)
