"""payworks-p3.md §7.5 and §7.6 on a card reader behind a serial line: what the card, the
cardholder at the pinpad and the issuer decide reaches the POS with its status and code,
and the acquirer's ledger holds exactly what stands (read from the ledger).

The cards and their outcomes are the catalogue's (virtual_devices/emv/cards/*.toml,
``[expected] outcome``); the codes are §6's, as §7.5/§7.6 name them: a card's decline
before going online DECLINED_CARD_OR_TERMINAL_DECLINED, the issuer's DECLINED_PROCESSOR,
the cancel key ABORTED_SHOPPER_ABORTED, no card in time ABORTED_PRESENT_CARD_TIMED_OUT,
no PIN in time ABORTED_PIN_ENTRY_TIMED_OUT (§10).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

READER = "counterReader"
# (card, what the cardholder does, status, code, what the acquirer holds: None no sale,
# else whether the sale was approved and whether it was then reversed)
OUTCOMES = [
    ("mc-issuer-decline", {}, "DECLINED", "DECLINED_PROCESSOR", (False, False)),
    ("mc-card-risk-decline", {}, "DECLINED", "DECLINED_CARD_OR_TERMINAL_DECLINED", None),
    # the issuer approves, the card refuses at the second GENERATE AC: taken back
    ("visa-card-decline-2nd-gac", {}, "DECLINED", "DECLINED_CARD_OR_TERMINAL_DECLINED",
     (True, True)),
    ("visa-chip-pin", {"cancel_at": "card"}, "ABORTED", "ABORTED_SHOPPER_ABORTED", None),
    ("visa-chip-pin", {"cancel_at": "pin"}, "ABORTED", "ABORTED_SHOPPER_ABORTED", None),
    ("visa-chip-pin", {"walk_away_at": "card"}, "ABORTED", "ABORTED_PRESENT_CARD_TIMED_OUT",
     None),
    ("visa-chip-pin", {"walk_away_at": "pin"}, "ABORTED", "ABORTED_PIN_ENTRY_TIMED_OUT", None),
]


@pytest.mark.parametrize("card, does, status, code, sale", OUTCOMES,
                         ids=[f"{o[0]}-{'-'.join(o[1]) or 'plain'}-{o[3]}" for o in OUTCOMES])
@case("p3/7.5/2", title="a card reader's declines and shopper aborts reach the POS with their "
      "own status and code, no receipt claims approval, and the acquirer keeps nothing that "
      "was not approved", section="7.5",
      failure="a decline, cancel or timeout at the reader is reported under another status "
      "or code, or leaves money booked")
def test_reader_outcome(p3: Any, card: str, does: dict[str, Any], status: str, code: str,
                        sale: tuple[bool, bool] | None) -> None:
    _needs_reader(p3)
    p3.need_reference("the card and the cardholder at the reader are chosen")
    reader = p3.server.devices[READER].reader
    reader.cards = (card,)
    reader.customer = {"presentation": "insert", **does}
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        first = yield from c.final(c.execute(resource, amount="12.00"), timeout=600)
        # the next customer holds a card that pays
        reader.cards, reader.customer = ("visa-chip-pin",), {"presentation": "insert"}
        again = yield from c.final(c.execute(resource, amount="13.00"), timeout=600)
        return first, again

    first, again = p3.run(script)
    t = tx_of(first)
    assert (t["status"], t["statusDetails"]["code"]) == (status, code), t["statusDetails"]
    assert t["captured"] is False
    # the reader serves the next charge; a cardholder who never took the card is still at
    # the counter with it, and does the same again
    took_card = does.get("cancel_at") != "card" and does.get("walk_away_at") != "card"
    n = tx_of(again)
    assert (n["status"], n["statusDetails"]["code"]) == (
        ("APPROVED", "APPROVED") if took_card else (status, code)), n["statusDetails"]
    ledger = p3.server.acquirer.ledger
    sales = [e for e in ledger.entries if e.kind == "sale" and e.amount == 1200]
    if sale is None:
        assert sales == [], "a sale reached the acquirer"
    else:
        (entry,) = sales
        assert (entry.approved, entry.reversed) == sale
    check_invariants(p3)
