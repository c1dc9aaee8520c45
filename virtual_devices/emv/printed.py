"""What is printed on a card: the embossed number and expiry, the security code.

A person keying a card on a terminal reads these off the card; the issuer checks the
same values. The security code on the back (Visa CVV2, Mastercard CVC2) is computed as
issuers compute it: the card verification value algorithm over PAN, expiry (YYMM) and
service code ``000``, under the brand's card verification key (the test CVK of
``keys/issuer_keys.toml``). The stripe's CVV uses the card's real service code and the
chip's iCVV ``999``, so the three values differ, as on real cards.

Choice: every brand prints three digits here (American Express prints a four-digit CID
whose algorithm is not public); a keyed Amex is checked on the same three digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psec.cvv import generate_cvv

from virtual_devices.emv.crypto import ISSUER_KEYS

SECURITY_CODE_SERVICE = "000"  # the service code of CVV2/CVC2 (not on any track)


def security_code(brand: str, pan: str, yymm: str) -> str:
    """The code printed on the back of a ``brand`` card (``""`` for a brand without keys)."""
    keys = ISSUER_KEYS.get(brand)
    if keys is None:
        return ""
    return generate_cvv(keys.cvk, pan, yymm, SECURITY_CODE_SERVICE)


@dataclass(frozen=True)
class Printed:
    """The face and back of one card, as a person reads them."""

    pan: str = field(repr=False)
    expiry_mm: str = ""
    expiry_yy: str = ""
    security_code: str = field(default="", repr=False)

    @property
    def expiry_yymm(self) -> str:
        return self.expiry_yy + self.expiry_mm


def printed(card: Any) -> Printed | None:
    """What ``card`` shows (a catalogue profile, a virtual card holding one, or a stripe
    card with ``pan`` and ``expiry`` YYMM); None when it carries no number."""
    profile = getattr(card, "profile", card)
    pan = str(getattr(profile, "pan", "") or "")
    expiry = str(getattr(profile, "expiry", "") or "")
    if not pan or len(expiry) < 4:
        return None
    yymm = expiry[:4]
    brand = str(getattr(profile, "brand", "") or "")
    if not brand:
        from virtual_devices.acquirer.host import BRAND_BY_RID, rid_for_pan

        brand = BRAND_BY_RID.get(rid_for_pan(pan).hex().upper(), "")
    return Printed(pan, yymm[2:4], yymm[:2], security_code(brand, pan, yymm))
