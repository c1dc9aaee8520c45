"""How a card may enter the reader (``inputMethod``) and how it did (the final frame).

``inputMethod`` of ``REQ_INIT_DEVICE`` (§B.5 enumeration, W-TS) names the interfaces the
reader opens, joined by ``_OR_``: ``SWIPE``, ``INSERT``, ``TAP``, ``KEYED``. On our reader,
an ABECS pinpad, they take effect like this:

* ``TAP`` is the pinpad's own switch: GCR_CTLSON (GCX option ``1xxxx``) turns the antenna
  on; without ``TAP`` GCR asks with the antenna off, the prompt does not say "APROXIME",
  and a customer with a contactless card inserts or swipes it instead.
* ABECS has no switch for the stripe reader or the chip slot, so the terminal
  application refuses a card read through an interface the POS left closed - a swipe on
  an insert-only reader, an insert on a swipe-only one (that card is first asked back
  with RMC) - and asks for the card again (``PRESENT_CARD``) until the card presentation
  timeout, as a reader with that interface off ignores the card. Choice: the refused read
  is not told to the POS as anything but the new card prompt (the note has no message for
  it, and a real reader with the interface off does not see the card at all).
* ``KEYED`` is manual entry on the POS (``REQ_PROCESS_UNREFERENCED_REFUND`` with
  ``cardNumber``); a sale on the reader has no keyed path here.

How the card did enter goes into the final frame: ``transactionInputMethod`` (``INSERT``,
``TAP`` or ``SWIPE``: the field and values the service sends on its sale object, W-NEW328's
``RES_ON_REQUEST_SET_AMOUNT`` sample) and ``posEntryMode`` (ours: ISO 8583 field 22's
first two digits, 05 chip, 07 contactless EMV, 91 contactless stripe, 90 swipe, 80 swipe
after a chip failure), both from the card type the pinpad's GCR answered, never from
what the POS allowed.
"""

from __future__ import annotations

from typing import Any

from virtual_devices.abecs import messages as m
from virtual_devices.terminal.app import entry_mode

INTERFACES = ("SWIPE", "INSERT", "TAP", "KEYED")
POS_ENTRY_MODES = {"chip": "05", "contactless": "07", "contactless-magstripe": "91",
                   "magstripe": "90", "fallback": "80"}


def allowed(input_method: str | None) -> frozenset[str]:
    """The interfaces ``inputMethod`` opens (every one when the POS gave none)."""
    if not input_method:
        return frozenset(INTERFACES)
    return frozenset(part for part in input_method.split("_OR_") if part in INTERFACES)


def how_read(card: m.GcrResponse) -> str:
    """``INSERT``, ``TAP`` or ``SWIPE``: the interface GCR's card type says was used."""
    if card.card_type in (m.CARD_CTLS_EMV, m.CARD_CTLS_MAG):
        return "TAP"
    if card.card_type == m.CARD_MAGSTRIPE:
        return "SWIPE"
    return "INSERT"


def fields(card: m.GcrResponse) -> dict[str, Any]:
    """The final frame's entry fields for the card the pinpad read."""
    return {"transactionInputMethod": how_read(card),
            "posEntryMode": POS_ENTRY_MODES.get(entry_mode(card), "00")}
