"""payworks-p3.md §4.6 / §7.6 on a card reader behind a serial line: an abort is accepted
exactly while the last update said abortable, and an accepted abort after the acquirer
approved takes the approval back there (read from the acquirer's ledger)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

READER = "counterReader"
# (card the customer holds, state the abort is sent in, abortable there)
STATES = [
    ("visa-chip-pin", "CONNECTING_TO_ACCESSORY", True),
    ("mc-chip-signature", "PROCESSING_ACTION_REQUIRED", True),  # signature, after approval
    ("visa-chip-pin", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL", False),
    ("visa-chip-pin", "PROCESSING_WAITING_FOR_CARD_REMOVAL", False),
]


@pytest.mark.parametrize("card, state, abortable", STATES)
@case("p3/4.6/5", title="abort on a card reader: accepted only while the last update said "
      "abortable; an abort at the signature, after the acquirer approved, ends the charge "
      "ABORTED and reverses its authorisation at the acquirer", section="4.6",
      failure="a reader's charge takes an abort it should refuse, refuses one it offered, or "
      "leaves an aborted charge's authorisation standing")
def test_reader_abort_at_state(p3: Any, card: str, state: str, abortable: bool) -> None:
    _needs_reader(p3)
    p3.need_reference("the card the reader's customer holds is chosen")
    reader = p3.server.devices[READER].reader
    reader.cards = (card,)
    reader.customer = {"presentation": "insert"}
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        tag = c.execute(resource, amount="12.00")
        upd = yield from c.update(tag, state, timeout=300)
        assert upd is not None, f"never reached {state}"
        said = upd["executeTransactionUpdate"]["abortable"]
        aresp = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, resource))
        return said, aresp, (yield from c.final(tag, timeout=300))

    said, aresp, final = p3.run(script)
    assert said is abortable, f"update at {state} said abortable={said}"
    t = tx_of(final)
    ledger = p3.server.acquirer.ledger
    sales = [e for e in ledger.entries if e.kind == "sale"]
    if abortable:
        assert aresp["status"] == "OK", aresp
        assert (t["status"], t["statusDetails"]["code"]) == ("ABORTED",
                                                             "ABORTED_MERCHANT_ABORTED")
        assert t["captured"] is False
        # before the card was read nothing reached the acquirer; after the approval the
        # sale is taken back once
        assert all(e.reversed for e in sales), "an aborted charge's sale still stands"
        assert len([e for e in ledger.entries if e.kind == "reversal"]) == len(sales)
        if state == "PROCESSING_ACTION_REQUIRED":
            assert len(sales) == 1, "the signature comes after the acquirer's approval"
    else:
        assert aresp["status"] == "ERROR", aresp
        assert aresp["error"]["type"] == "TRANSACTION_NO_LONGER_ABORTABLE"
        assert t["status"] == "APPROVED", t["statusDetails"]
        assert len(sales) == 1 and not sales[0].reversed
    check_invariants(p3)
