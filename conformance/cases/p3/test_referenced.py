"""payworks-p3.md §7.7 (refunds) and §7.8 (capture, tip adjust)."""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_invariants, login, tx_of


def _approved_charge(c: Any, p3: Any, amount: str = "5.00", **extra: Any):  # type: ignore[no-untyped-def]
    yield from login(c, p3)
    final = yield from c.final(c.execute(p3.resource, amount=amount, **extra))
    return tx_of(final)["identifier"]


@case("p3/7.7/1", title="a referenced refund needs no card and is approved", section="7.7",
      failure="a refund of an earlier charge fails or asks for a card")
def test_referenced_refund(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        ident = yield from _approved_charge(c, p3)
        tag = c.execute(p3.resource, type_="REFUND", amount="2.00",
                        referencedTransactionIdentifier=ident)
        return ident, tag, (yield from c.final(tag))

    ident, tag, final = p3.run(script)
    t = tx_of(final)
    assert t["type"] == "REFUND" and t["status"] == "APPROVED"
    assert t["referencedTransactionIdentifier"] == ident
    seen = [m["executeTransactionUpdate"]["details"]["stateDetails"]
            for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]
    assert "PROCESSING_WAITING_FOR_CARD_PRESENTATION" not in seen
    check_invariants(p3)


@case("p3/7.7/2", title="a standalone refund reads a card", section="7.7",
      failure="a refund without reference does not go through the reader")
def test_standalone_refund(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, type_="REFUND", amount="3.00")
        return tag, (yield from c.final(tag))

    tag, final = p3.run(script)
    t = tx_of(final)
    assert t["type"] == "REFUND" and t["status"] == "APPROVED"
    assert "paymentDetails" in t
    check_invariants(p3)


@case("p3/7.7/3", title="refunding more than is left is refused", section="7.7",
      failure="a charge can be refunded beyond its amount")
def test_over_refund(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        ident = yield from _approved_charge(c, p3)
        first = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="4.00",
                                             referencedTransactionIdentifier=ident))
        second = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="4.00",
                                              referencedTransactionIdentifier=ident))
        unknown = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="1.00",
                                               referencedTransactionIdentifier="0" * 32))
        return first, second, unknown

    first, second, unknown = p3.run(script)
    assert tx_of(first)["status"] == "APPROVED"
    assert second["status"] == "ERROR" or tx_of(second)["status"] == "DECLINED"
    assert unknown["status"] == "ERROR"
    check_invariants(p3)


@case("p3/7.8/2", title="capture of a pre-authorisation, then a tip adjust", section="7.8",
      failure="capture or tip adjust does not update the charge")
def test_capture_and_tip(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        ident = yield from _approved_charge(c, p3, "5.00", autoCapture=False)
        cap = yield from c.final(c.execute(p3.resource, type_="CAPTURE", amount=None,
                                           currency=None, referencedTransactionIdentifier=ident))
        tip = yield from c.final(c.execute(p3.resource, type_="TIP_ADJUST", amount="0.50",
                                           referencedTransactionIdentifier=ident))
        return ident, cap, tip

    ident, cap, tip = p3.run(script)
    assert tx_of(cap)["captured"] is True and tx_of(cap)["identifier"] == ident
    t = tx_of(tip)
    assert str(t["amount"]) == "5.50" and t["details"]["tipAdjustStatus"] == "ADJUSTED"
    check_invariants(p3)
