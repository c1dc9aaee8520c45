"""payworks-p3.md §7.7 and §7.8 on a card reader's charges: a referenced refund is a credit
against the charge at the acquirer -- a sale, or the capture of a pre-authorisation -- and
one the processor refuses is DECLINED_PROCESSOR_REFUND_NOT_POSSIBLE with nothing booked.
The back end's side is read from the acquirer's ledger."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")


@pytest.mark.parametrize("auto_capture", [True, False])
@case("p3/7.7/14", title="a referenced refund of a card reader's charge (a sale, or a captured "
      "pre-authorisation): approved, the charge lists it, and the acquirer books one credit "
      "against the captured money", section="7.7",
      failure="a refund of a reader's charge is declined, booked against the wrong entry, "
      "or not listed on the charge")
def test_reader_referenced_refund(p3: Any, auto_capture: bool) -> None:
    _needs_reader(p3)
    p3.need_reference("the acquirer's ledger is read")
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        charge = yield from c.final(c.execute(resource, amount="12.00",
                                              autoCapture=auto_capture), timeout=300)
        ident = tx_of(charge)["identifier"]
        if not auto_capture:
            cap = yield from c.final(c.execute(resource, type_="CAPTURE", amount="12.00",
                                               referencedTransactionIdentifier=ident))
            assert tx_of(cap)["captured"] is True, tx_of(cap)
        refund = yield from c.final(c.execute(resource, type_="REFUND", amount="5.00",
                                              referencedTransactionIdentifier=ident))
        tip = yield from c.final(c.execute(resource, type_="TIP_ADJUST", amount="1.00",
                                           referencedTransactionIdentifier=ident))
        return ident, refund, tip

    ident, refund, tip = p3.run(script)
    r = tx_of(refund)
    assert (r["type"], r["status"], r["statusDetails"]["code"]) == ("REFUND", "APPROVED",
                                                                    "APPROVED"), r
    assert (str(r["amount"]), r["referencedTransactionIdentifier"]) == ("5.00", ident)
    after = tx_of(tip)
    assert after["refundDetails"]["refundTransactions"] == [r["identifier"]]
    ledger = p3.server.acquirer.ledger
    captured = [e for e in ledger.entries if e.kind == ("sale" if auto_capture else "capture")]
    (credit,) = [e for e in ledger.entries if e.kind == "refund"]
    assert (credit.amount, credit.approved, credit.parent) == (500, True, captured[0].ref)
    check_invariants(p3)


@case("p3/7.7/15", title="a referenced refund the processor declines (the sale was taken back "
      "at the acquirer): DECLINED_PROCESSOR_REFUND_NOT_POSSIBLE, the display says declined, "
      "and nothing booked", section="7.7",
      failure="a refund the acquirer refused is reported approved, or booked")
def test_reader_refund_declined_by_processor(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the acquirer's ledger is changed behind the server")
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        charge = yield from c.final(c.execute(resource, amount="12.00"), timeout=300)
        ident = tx_of(charge)["identifier"]
        (sale,) = [e for e in p3.server.acquirer.ledger.entries if e.kind == "sale"]
        p3.server.acquirer.reverse(sale.ref, key="reversed-at-acquirer")
        tag = c.execute(resource, type_="REFUND", amount="5.00",
                        referencedTransactionIdentifier=ident)
        refund = yield from c.final(tag)
        return c.messages(tag), refund

    messages, refund = p3.run(script)
    r = tx_of(refund)
    assert (r["type"], r["status"], r["statusDetails"]["code"]) == (
        "REFUND", "DECLINED", "DECLINED_PROCESSOR_REFUND_NOT_POSSIBLE"), r
    last = [m["executeTransactionUpdate"]["details"] for m in messages
            if m["type"] == "EXECUTE_TRANSACTION_UPDATE"][-1]
    # the words are the server's own (§5.3 has none for a refund); they must say declined
    assert last["stateDetails"] == "DECLINED", last
    assert "declined" in last["information"][0].lower(), last
    credits = [e for e in p3.server.acquirer.ledger.entries if e.kind == "refund"]
    assert len(credits) == 1 and not credits[0].approved, "a refused credit was booked"
    # no ledger balance check here: the case itself took the sale back behind the server


@case("p3/7.8/15", title="a tip adjust the processor declines (the sale was taken back at the "
      "acquirer): the answer's charge keeps its amount, no tip and ADJUSTABLE, the display "
      "says declined, and no tip is booked", section="7.8",
      failure="a tip the acquirer refused is added to the charge or reported adjusted")
def test_reader_tip_declined_by_processor(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the acquirer's ledger is changed behind the server")
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        charge = yield from c.final(c.execute(resource, amount="12.00"), timeout=300)
        ident = tx_of(charge)["identifier"]
        (sale,) = [e for e in p3.server.acquirer.ledger.entries if e.kind == "sale"]
        p3.server.acquirer.reverse(sale.ref, key="reversed-at-acquirer")
        tag = c.execute(resource, type_="TIP_ADJUST", amount="1.50",
                        referencedTransactionIdentifier=ident)
        tip = yield from c.final(tag)
        return ident, c.messages(tag), tip

    ident, messages, tip = p3.run(script)
    # a tip adjust's answer carries the charge (§7.8)
    t = tx_of(tip)
    assert (t["identifier"], t["type"], str(t["amount"])) == (ident, "CHARGE", "12.00"), t
    assert t["details"]["tipAdjustStatus"] == "ADJUSTABLE"
    assert t["details"]["includedTipAmount"] is None
    last = [m["executeTransactionUpdate"] for m in messages
            if m["type"] == "EXECUTE_TRANSACTION_UPDATE"][-1]
    # the words are the server's own (§5.3 has none for a tip); they must say declined
    assert last["details"]["stateDetails"] == "DECLINED", last["details"]
    assert "declined" in last["details"]["information"][0].lower(), last["details"]
    assert last["transaction"]["status"] == "DECLINED"
    tips = [e for e in p3.server.acquirer.ledger.entries if e.kind == "tip_adjust"]
    assert len(tips) == 1 and not tips[0].approved, "a refused tip was booked"
    # no ledger balance check here: the case itself took the sale back behind the server
