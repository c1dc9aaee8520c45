"""payworks-p3.md §7.7 (standalone refund) and §7.8 (tip adjust) on a card reader behind a
serial line: the refund reads the card and is a credit at the acquirer, the tip is added
to the charge at the acquirer; a POS lost mid-refund neither loses nor doubles it."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
NO_READER = "the target lists no card reader besides MOCK devices"


@case("p3/7.7/4", title="a standalone refund on a card reader reads the card, asks no PIN and "
      "is a credit at the acquirer", section="7.7",
      failure="a refund without reference is refused on a reader, asks for a PIN, or books "
      "a sale instead of a credit")
def test_standalone_refund_on_reader(p3: Any, verdict: Any) -> None:
    _needs_reader(p3)
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        if resource is None:
            return None
        tag = c.execute(resource, type_="REFUND", amount="7.00")
        return tag, (yield from c.final(tag, timeout=300))

    out = p3.run(script)
    if out is None:
        verdict.unimplemented(NO_READER)
        return
    tag, final = out
    assert final["status"] == "OK", final.get("error")
    t = tx_of(final)
    assert (t["type"], t["status"]) == ("REFUND", "APPROVED")
    assert t["paymentDetails"]["source"] in ("ICC", "NFC_ICC")
    assert t["paymentDetails"]["customerVerification"] == "NONE"
    details = [m["executeTransactionUpdate"]["details"]["stateDetails"]
               for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]
    assert "PROCESSING_WAITING_FOR_CARD_PRESENTATION" in details
    assert "PROCESSING_WAITING_FOR_PIN" not in details
    if p3.server is not None:
        ledger = p3.server.acquirer.ledger
        (entry,) = [e for e in ledger.entries if e.key == t["identifier"]]
        assert (entry.kind, entry.amount, entry.parent) == ("refund", 700, None)
        assert [e.kind for e in ledger.entries] == ["refund"], "something besides the credit"
    check_invariants(p3)


@case("p3/7.7/5", title="the POS lost during a standalone refund on a card reader: the refund "
      "is taken back once and the reader serves the next refund", section="7.7",
      failure="a refund the POS never heard the end of stays booked, is booked twice, or the "
      "reader stays busy")
def test_disconnect_mid_refund_on_reader(p3: Any, verdict: Any) -> None:
    _needs_reader(p3)
    c = p3.client("pos-lost")

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        if resource is None:
            return None
        tag = c.execute(resource, type_="REFUND", amount="4.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL", timeout=300)
        c.end.close()
        yield p3.world.timeout(30)
        return resource

    resource = p3.run(script)
    if resource is None:
        verdict.unimplemented(NO_READER)
        return
    fresh = p3.client("pos-next")

    def again():  # type: ignore[no-untyped-def]
        yield from _reader(p3, fresh)
        return (yield from fresh.final(fresh.execute(resource, type_="REFUND", amount="4.00"),
                                       timeout=300))

    final = p3.run(again)
    assert final["status"] == "OK", "the reader did not serve the next client"
    assert tx_of(final)["status"] == "APPROVED"
    if p3.server is None:
        verdict.informational("the target's acquirer is not observable; check the refund "
                              "was reversed there")
        return
    ledger = p3.server.acquirer.ledger
    assert [e.kind for e in ledger.entries] == ["refund", "reversal", "refund"]
    assert ledger.entries[0].reversed and ledger.entries[1].parent == ledger.entries[0].ref
    assert ledger.balance()["refunded"] == 400
    lost = [tx for tx in p3.server.transactions.values() if tx.status == "ERROR"]
    assert [tx.status_code for tx in lost] == ["ERROR_AUTOREVERSAL_LOGOUT"]
    check_invariants(p3)


@case("p3/7.8/3", title="tip adjust of a card-reader charge is booked at the acquirer",
      section="7.8",
      failure="tip adjust is refused on a reader's charge, or the tip is not settled with it")
def test_tip_adjust_on_reader(p3: Any, verdict: Any) -> None:
    _needs_reader(p3)
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        if resource is None:
            return None
        charge = yield from c.final(c.execute(resource, amount="12.00"), timeout=300)
        ident = tx_of(charge)["identifier"]
        tip = yield from c.final(c.execute(resource, type_="TIP_ADJUST", amount="1.80",
                                           referencedTransactionIdentifier=ident))
        return charge, tip

    out = p3.run(script)
    if out is None:
        verdict.unimplemented(NO_READER)
        return
    charge, tip = out
    assert tx_of(charge)["status"] == "APPROVED"
    assert tip["status"] == "OK", tip.get("error")
    t = tx_of(tip)
    assert t["identifier"] == tx_of(charge)["identifier"] and t["status"] == "APPROVED"
    assert str(t["amount"]) == "13.80" and t["details"]["tipAdjustStatus"] == "ADJUSTED"
    if p3.server is not None:
        ledger = p3.server.acquirer.ledger
        assert [e.kind for e in ledger.entries] == ["sale", "tip_adjust"]
        assert ledger.balance()["settled"] == 1380
    check_invariants(p3)
