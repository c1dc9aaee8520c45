"""payworks-p3.md §4.4 and §7: the values of the fields a response defines, wherever the
scenario fixes them, and the display lines of each step.

The expected values are written here from the document and from the MOCK card's
description (payworks-p3.md §11: the amount's digits choose the outcome), never read back
from the server's own tables, so a bug the server shares with a helper cannot stay green.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

MASKED = "541333******0434"  # the MOCK card's PAN, first 6 / last 4
PIN_LINES = ["", "*", "**", "***", "****"]


def _updates(c: Any, tag: str) -> list[dict[str, Any]]:
    return [m["executeTransactionUpdate"] for m in c.messages(tag)
            if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]


def _charge(p3: Any, amount: str) -> tuple[Any, str, dict[str, Any]]:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=amount)
        return tag, (yield from c.final(tag))

    tag, final = p3.run(script)
    return c, tag, final


@case("p3/4.4/11", title="the display lines of a chip + PIN charge: the amount, then one more "
      "'*' for each PIN digit typed", section="4.4",
      failure="the information lines do not follow the cardholder's steps")
def test_pin_entry_lines(p3: Any) -> None:
    c, tag, final = _charge(p3, "22.00")  # tens digit 2: offline PIN, units 0: correct
    assert tx_of(final)["status"] == "APPROVED"
    ups = _updates(c, tag)
    shown = {u["details"]["stateDetails"]: u["details"]["information"] for u in ups}
    assert shown["PROCESSING_WAITING_FOR_CARD_PRESENTATION"] == ["22,00 EUR",
                                                                 "Insert or swipe card"]
    pin = [u["details"]["information"] for u in ups
           if u["details"]["stateDetails"] == "PROCESSING_WAITING_FOR_PIN"]
    assert pin == [["Enter PIN", stars] for stars in PIN_LINES], pin
    assert all(u["abortable"] is True for u in ups
               if u["details"]["stateDetails"] == "PROCESSING_WAITING_FOR_PIN")
    check_invariants(p3)


@case("p3/4.4/12", title="a PIN typed wrong on every try: three rounds of entry ('incorrect', "
      "then 'last try'), declined with DECLINED_PIN_WRONG_TOO_OFTEN", section="4.4",
      failure="the tries, their display lines or the decline's code are wrong")
def test_wrong_pin_rounds(p3: Any) -> None:
    c, tag, final = _charge(p3, "21.00")  # offline PIN, wrong on every try
    t = tx_of(final)
    assert (t["status"], t["statusDetails"]["code"]) == ("DECLINED", "DECLINED_PIN_WRONG_TOO_OFTEN")
    pin = [u["details"]["information"] for u in _updates(c, tag)
           if u["details"]["stateDetails"] == "PROCESSING_WAITING_FOR_PIN"]
    heads = ["Enter PIN", "Enter PIN (incorrect)", "Enter PIN (last try)"]
    assert pin == [[h, stars] for h in heads for stars in PIN_LINES], pin
    assert t["captured"] is False
    check_invariants(p3)


@case("p3/7.1/11", title="an approved MOCK charge: every field the scenario fixes has its value "
      "(amount, card, verification, refund and tip status, clearing, receipt AID)",
      section="7.1", failure="a field of the final transaction carries another value")
def test_approved_charge_values(p3: Any) -> None:
    _, _, final = _charge(p3, "22.00")
    t = tx_of(final)
    assert (t["type"], str(t["amount"]), t["currency"]) == ("CHARGE", "22.00", "EUR")
    assert (t["status"], t["statusDetails"]["code"], t["state"]) == ("APPROVED", "APPROVED",
                                                                     "ENDED")
    assert t["captured"] is True and t["referencedTransactionIdentifier"] is None
    pay = t["paymentDetails"]
    assert (pay["scheme"], pay["source"], pay["customerVerification"],
            pay["maskedAccountNumber"]) == ("MASTERCARD", "ICC", "PIN", MASKED)
    card = t["cardDetails"]
    assert (card["maskedCardNumber"], card["scheme"], card["expiryMonth"], card["expiryYear"],
            card["countryCodeNumeric"]) == (MASKED, "MASTERCARD", 12, 2030, "276")
    assert t["refundDetails"] == {"status": "REFUNDABLE_PARTIAL_AND_FULL",
                                  "refundTransactions": []}
    assert t["details"]["tipAdjustStatus"] == "ADJUSTABLE"
    assert t["details"]["includedTipAmount"] is None
    clearing = t["clearingDetails"]
    assert clearing["transactionIdentifier"] == t["identifier"]
    assert clearing["completed"] is True and clearing["originalTransactionIdentifier"] is None
    assert len(clearing["authorizationCode"]) == 6
    # no application selection asked: the card's first application (MASTERCARD) pays
    lines = {d["key"]: d["value"] for d in t["merchantReceipt"]["paymentDetails"]}
    assert lines["PAYMENT_DETAILS_EMV_APPLICATION_ID"] == "A0000000041010"
    assert lines["PAYMENT_DETAILS_ACCOUNT_SEQUENCE_NUMBER"] == "01"
    check_invariants(p3)


@case("p3/7.7/11", title="a standalone refund on a card reader: while the processor is asked, "
      "the refund cannot be aborted and the display says so", section="7.7",
      failure="the refund offers an abort it cannot honour, or its display lines are wrong")
def test_refund_on_reader_not_abortable(p3: Any, verdict: Any) -> None:
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
        verdict.unimplemented("the target lists no card reader besides MOCK devices")
        return
    tag, final = out
    t = tx_of(final)
    assert (t["type"], t["status"], t["statusDetails"]["code"]) == ("REFUND", "APPROVED",
                                                                    "APPROVED")
    asking = [u for u in _updates(c, tag)
              if u["details"]["stateDetails"] == "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL"]
    assert asking, "no update while the processor was asked"
    for u in asking:
        assert u["abortable"] is False, "an abort cannot be honoured once the processor is asked"
        assert u["details"]["information"][0] == "Processing refund..."
    check_invariants(p3)


@case("p3/7.8/11", title="two tips on one charge: each answer says ADJUSTED, the charge's "
      "amount and included tip grow by each tip, and the acquirer books each tip once",
      section="7.8", failure="a tip adjust reports another amount, tip or status than the "
      "tips given, or books a tip twice")
def test_two_tips_values(p3: Any) -> None:
    from .test_referenced import _approved_charge

    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        ident = yield from _approved_charge(c, p3, "5.00")
        tags = []
        finals = []
        for tip in ("0.50", "0.25"):
            tag = c.execute(p3.resource, type_="TIP_ADJUST", amount=tip,
                            referencedTransactionIdentifier=ident)
            tags.append(tag)
            finals.append((yield from c.final(tag)))
        return ident, tags, finals

    ident, tags, finals = p3.run(script)
    first, second = (tx_of(f) for f in finals)
    for t, amount, tip in ((first, "5.50", "0.50"), (second, "5.75", "0.75")):
        assert (t["identifier"], t["status"], t["statusDetails"]["code"]) == (
            ident, "APPROVED", "APPROVED"), t["statusDetails"]
        assert str(t["amount"]) == amount, f"amount {t['amount']} after tips, not {amount}"
        assert str(t["details"]["includedTipAmount"]) == tip, t["details"]
        assert t["details"]["tipAdjustStatus"] == "ADJUSTED"
    for tag in tags:
        # the tip is pending until the acquirer answers; the update that shows the result
        # ("Tip adjusted") carries the approved, ended transaction
        brief = [(u["transaction"]["status"], u["transaction"]["state"]) for u in _updates(c, tag)]
        assert brief[0][0] == "PENDING", brief
        assert brief[-1] == ("APPROVED", "ENDED"), brief
    if p3.ledger is not None:
        tips = [e for e in p3.ledger.entries if e.kind == "TIP_ADJUST"]
        assert [(e.identifier, e.amount) for e in tips] == [(ident, 50), (ident, 25)]
    check_invariants(p3)


def _signature_charge(p3: Any, answer: dict[str, Any] | None) -> tuple[Any, str, Any]:
    """A charge whose card asks for a signature (10.00); ``answer`` None leaves it unanswered."""
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="10.00")
        if answer is not None:
            action = yield from c.action(tag)
            assert action["executeTransactionAction"]["action"] == "CUSTOMER_SIGNATURE"
            yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST", answer, p3.resource))
        return tag, (yield from c.final(tag, timeout=400))

    tag, final = p3.run(script)
    return c, tag, final


def _reversals(p3: Any, ident: str) -> list[Any]:
    assert p3.ledger is not None
    return [e for e in p3.ledger.entries if e.kind == "REVERSAL" and e.identifier == ident]


@case("p3/7.2/11", title="a signature the merchant does not verify: declined with "
      "DECLINED_VERIFICATION_FAILED, the display says so, the authorisation is reversed for "
      "that reason", section="7.2",
      failure="an unverified signature leaves the charge approved or booked, or is reported "
      "with another code or text")
def test_signature_not_verified(p3: Any) -> None:
    c, tag, final = _signature_charge(p3, {"signature": "iVBORw0KGgo=", "verified": False})
    t = tx_of(final)
    assert (t["status"], t["statusDetails"]["code"]) == ("DECLINED", "DECLINED_VERIFICATION_FAILED")
    assert t["captured"] is False
    last = _updates(c, tag)[-1]["details"]
    assert (last["stateDetails"], last["information"]) == (
        "DECLINED", ["Payment declined", "Signature not verified"])
    if p3.ledger is not None:
        assert [e.reason for e in _reversals(p3, t["identifier"])] == [
            "DECLINED_VERIFICATION_FAILED"], "the authorisation is not reversed, or twice"
    check_invariants(p3)


@case("p3/7.2/12", title="a signature never given: the charge ends ERROR_SESSION_TIMEOUT and the "
      "acquirer's ledger shows its authorisation reversed for that reason", section="7.2",
      failure="an unanswered action leaves the authorisation standing, or reverses it under "
      "another reason")
def test_unanswered_signature_reversal_reason(p3: Any) -> None:
    _, _, final = _signature_charge(p3, None)
    t = tx_of(final)
    assert (t["status"], t["statusDetails"]["code"]) == ("ERROR", "ERROR_SESSION_TIMEOUT")
    if p3.ledger is not None:
        assert [e.reason for e in _reversals(p3, t["identifier"])] == ["ERROR_SESSION_TIMEOUT"]
    check_invariants(p3)
