"""Cards by name, for ``--card`` queues, the control API and the demo.

Catalogue names (``virtual_devices/emv/cards``) make chip cards; two names of our own
make stripe-only cards, for POS tests of the magstripe path of process (§2.5
``magstripe_payment_method``, §5 step 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.world import World

# Stripe-only test cards: a Visa test PAN (ADVT family) and an Elo test PAN.
STRIPE_CARDS: dict[str, dict[str, str]] = {
    "magstripe-credit": {
        "pan": "4761739001010119",
        "expiry": "3112",
        "holder": "CARDLOOP/STRIPE",
        "service_code": "101",
    },
    "magstripe-debit-pin": {
        "pan": "5067230000000010",
        "expiry": "3112",
        "holder": "CARDLOOP/DEBITO",
        "service_code": "106",
    },
}


def card_names() -> list[str]:
    names = list(STRIPE_CARDS)
    try:
        from virtual_devices.emv.catalogue import catalogue

        names += sorted(catalogue())
    except ImportError:
        pass
    return names


# The card a customer holds when nobody chose one (``cardloop serve`` with no ``--card``):
# a plain chip-and-PIN test card the acquirer approves, named in the banner.
DEFAULT_CARD = "visa-chip-pin"


def card_from_name(world: World, name: str) -> Any:
    """A card object the virtual pinpad accepts; registers its PAN with the redactor."""
    if name in STRIPE_CARDS:
        from virtual_devices.abecs.customer import MagstripeCard

        spec = STRIPE_CARDS[name]
        card = MagstripeCard(spec["pan"], spec["expiry"], spec["holder"], spec["service_code"])
        world.redactor.add_pan(card.pan)
        return card
    from virtual_devices.abecs.cards import catalogue_card

    try:
        card = catalogue_card(name)
    except KeyError:
        raise ValueError(f"unknown card {name!r}; known: {', '.join(card_names())}") from None
    world.redactor.add_pan(card.pan)
    if "contact" in getattr(card, "interfaces", ()) and not getattr(card, "has_chip", False):
        # the customer inserts cards that have a chip (a merchant asks for the chip first)
        try:
            card.has_chip = True
        except AttributeError:
            pass
    return card
