"""The person at the pinpad: the project's one cardholder model, and stripe-only cards.

The pinpad asks its customer for actions (present a card, type a PIN, press a key,
take the card back) through the pinpad-side methods of
:class:`virtual_devices.cardholder.Cardholder`; scenario knobs (mpos-bridge.md §6) are
fields of the one :class:`~virtual_devices.cardholder.Behaviour`. ``Customer`` is the
pinpad's name for the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from virtual_devices.cardholder import CANCEL_KEY, Behaviour, Cardholder, has_chip, pin_of

Customer = Cardholder

__all__ = ["CANCEL_KEY", "Behaviour", "Customer", "MagstripeCard", "SwipeCard", "as_customer",
           "has_chip", "pin_of"]


class SwipeCard(Protocol):
    """What a magnetic stripe reader sees of a card."""

    pan: str
    track1: str
    track2: str


@dataclass(frozen=True)
class MagstripeCard:
    """A card with only a stripe (or whose chip the scenario ignores).

    Tracks follow ISO 7813: track 2 ``PAN=YYMM SSS discretionary``; track 1
    ``B PAN ^SURNAME/GIVEN^YYMM SSS discretionary``.
    """

    pan: str
    expiry: str  # YYMM
    holder: str = "CARDHOLDER/TEST"
    service_code: str = "101"
    discretionary: str = "0000000000"
    has_chip: bool = False
    # ISO 4909 track 3 (up to 104 characters), which few cards carry: empty when absent
    track3: str = ""

    @property
    def track2(self) -> str:
        return f"{self.pan}={self.expiry}{self.service_code}{self.discretionary}"

    @property
    def track1(self) -> str:
        return f"B{self.pan}^{self.holder:<26}^{self.expiry}{self.service_code}{self.discretionary}"


def as_customer(world: Any, who: Any) -> Cardholder:
    """A cardholder from a :class:`Cardholder` (itself) or a :class:`Behaviour`."""
    if isinstance(who, Cardholder):
        return who
    if isinstance(who, Behaviour):
        return Cardholder(world, who)
    raise TypeError(f"not a cardholder or a behaviour: {type(who).__name__}")
