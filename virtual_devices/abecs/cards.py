"""Cards for the pinpad's customer, by catalogue name.

A chip card comes from the EMV card model when it is installed (a card that answers
APDUs); otherwise, and for stripe-only tests, the catalogue profile's stripe is used
(:class:`MagstripeCard`, consistent with the profile's PAN, expiry, name and service
code). Either way the card's PAN is registered for masking by the pinpad.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StripeCard:
    """A catalogue card seen through its stripe only (tracks built by the EMV model)."""

    pan: str
    track1: str
    track2: str
    has_chip: bool = False


def stripe_of(card: Any) -> tuple[str, str]:
    """(track1, track2) of any card: attributes, or a ``tracks()`` method."""
    t1 = getattr(card, "track1", None)
    t2 = getattr(card, "track2", None)
    if t2 is None and callable(getattr(card, "tracks", None)):
        tracks = card.tracks()
        t1 = getattr(tracks, "track1", None)
        t2 = getattr(tracks, "track2", None)
    return str(t1 or ""), str(t2 or "")


def _chip_card(profile: Any) -> Any | None:
    """The EMV model's card for ``profile``, when that model is installed."""
    for module, attr in (("virtual_devices.emv.card", "card_from_profile"),
                         ("virtual_devices.emv.card", "VirtualCard")):
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        return factory(profile)
    return None


def catalogue_card(name: str, stripe_only: bool = False) -> Any:
    """A card by catalogue name (``visa-chip-pin``); KeyError lists the known names."""
    from virtual_devices.emv.catalogue import catalogue

    profiles = catalogue()
    if name not in profiles:
        raise KeyError(f"no card {name!r}; known: {', '.join(sorted(profiles))}")
    profile = profiles[name]
    # any chip, contact or contactless only (a tap-and-swipe card has no contact plate)
    if not stripe_only and profile.interfaces & {"contact", "contactless"}:
        card = _chip_card(profile)
        if card is not None:
            return card
    from virtual_devices.emv.magstripe import build_tracks

    tracks = build_tracks(profile.brand, profile.pan, profile.expiry[:4],
                          profile.service_code, profile.cardholder_name)
    return StripeCard(profile.pan, tracks.track1, tracks.track2)


def catalogue_names() -> list[str]:
    from virtual_devices.emv.catalogue import catalogue

    return sorted(catalogue())
