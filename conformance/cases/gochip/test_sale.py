"""semi-and-websockets.md §B.4 steps 6-9: the sale, its prompts and its final frame."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, is_number, sale_of, setup_and_sell


@case("gochip/B.4/11", title="chip + PIN sale: reader prompts in order, approved with code A",
      failure="a chip+PIN sale does not complete as documented")
def test_chip_pin_sale(gochip: Any) -> None:
    c = gochip.client()
    final = gochip.run(lambda: setup_and_sell(c, "12.50", orderId="KQK9Z8"))
    s = sale_of(final)
    assert s["code"] == "A" and s["description"] == "APPROVAL"
    assert is_number(s["authorizedAmount"]) and str(s["authorizedAmount"]) in ("12.5", "12.50")
    assert s["orderId"] == "KQK9Z8" and s["uniqueRef"]
    msgs = c.messages()
    if gochip.reference:
        order = ["PRESENT_CARD", "CARD_INSERTED", "ENTER_PIN", "PROCESSING", "REMOVE_CARD"]
        assert msgs == order, msgs
    check_invariants(gochip)


@case("gochip/B.4/12", title="the final frame has the documented fields, a masked card number "
      "and the kernel's EMV tags", failure="RES_ON_SALE_RESPONSE misses a documented field")
def test_final_shape(gochip: Any) -> None:
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "5.00")))
    for key in ("cardHolderName", "cardNumber", "expiryDate", "authorizedAmount", "currency",
                "uniqueRef", "dateTime", "description", "code", "cardType", "emvTags",
                "orderId"):
        assert key in s, key
    assert "*" in s["cardNumber"] and len(s["expiryDate"]) == 4
    tags = {t["tag"]: t["value"] for t in s["emvTags"]}
    if gochip.reference:
        assert {"9F26", "9F27", "9F36", "95", "9F02"} <= set(tags), sorted(tags)
        assert tags["9F02"] == "000000000500"
        ledger = gochip.agent.acquirer.ledger
        entry = ledger.get(gochip.agent.records.get(s["uniqueRef"]).ledger_ref)
        assert entry.meta["cryptogram_ok"], "the acquirer did not verify the card's ARQC"
        assert entry.pan_masked.replace("*", "") == s["cardNumber"].replace("*", "")
    check_invariants(gochip)


@case("gochip/B.4/13", title="a card with two applications: RES_ON_SELECT_APPLICATION, "
      "REQ_SUBMIT_APPLICATION picks the one used", failure="application selection is not "
      "offered to the POS or its answer is ignored")
def test_application_selection(gochip: Any) -> None:
    gochip.present("elo-combo")
    c = gochip.client()
    c.answers["RES_ON_SELECT_APPLICATION"] = 1
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "20.00")))
    prompt = next(m for m in c.received if m["type"] == "RES_ON_SELECT_APPLICATION")
    assert len(prompt["data"]["applications"]) == 2
    tags = {t["tag"]: t["value"] for t in s["emvTags"]}
    assert tags["84"] == "A0000004942010", "the second application (debit) was not used"
    assert s["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.4/14", title="signature CVM: RES_ON_SIGNATURE_REQUIRED, REQ_SUBMIT_SIGNATURE, "
      "then the approval", failure="a signature card is approved without the signature step")
def test_signature(gochip: Any) -> None:
    gochip.present("mc-chip-signature")
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "20.00")))
    kinds = c.types()
    assert "RES_ON_SIGNATURE_REQUIRED" in kinds
    assert kinds.index("RES_ON_SIGNATURE_REQUIRED") < kinds.index("RES_ON_SALE_RESPONSE")
    assert s["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.4/15", title="an unanswered signature prompt ends the sale declined and "
      "nothing stays booked", failure="an approval stays booked though the signature never came")
def test_signature_unanswered(gochip: Any) -> None:
    gochip.present("mc-chip-signature")
    c = gochip.client()
    c.answers["RES_ON_SIGNATURE_REQUIRED"] = None
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "20.00")))
    assert s["code"] != "A"
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.4/16", title="REMOVE_CARD comes after the final frame (step 9)",
      failure="the card-removal message is missing or comes before the result")
def test_remove_card_after_final(gochip: Any) -> None:
    c = gochip.client()
    gochip.run(lambda: setup_and_sell(c, "7.00"))
    kinds = c.types()
    final = kinds.index("RES_ON_SALE_RESPONSE")
    after = [m["data"]["message"] for m in c.received[final:] if m["type"] == "RES_ON_MESSAGE"]
    assert "REMOVE_CARD" in after, c.messages()


@case("gochip/B.4/17", title="polling mode: RES_ON_REQUEST_SET_AMOUNT, REQ_SUBMIT_AMOUNT sets "
      "the amount charged", failure="the polling amount prompt is missing or ignored")
def test_polling_amount(gochip: Any) -> None:
    c = gochip.client()
    c.answers["RES_ON_REQUEST_SET_AMOUNT"] = "15.00"

    def script() -> Any:
        yield from c.setup()
        yield from c.request("REQ_SET_POLLING_ENABLED", {"enabled": True},
                             "RES_ON_SET_POLLING_ENABLED")
        return (yield from c.sale("12.00"))

    s = sale_of(gochip.run(script))
    assert "RES_ON_REQUEST_SET_AMOUNT" in c.types()
    assert str(s["authorizedAmount"]) == "15"
    check_invariants(gochip)


@case("gochip/B.4/18", title="delayed-auth mode: the initial amount is offered and the "
      "submitted one is authorised; a refused confirmation cancels",
      failure="delayed authorisation does not follow REQ_SUBMIT_AMOUNT")
def test_delayed_auth(gochip: Any) -> None:
    c = gochip.client()
    c.answers["RES_ON_REQUEST_SET_AMOUNT"] = "17.00"

    def script() -> Any:
        yield from c.setup()
        yield from c.request("REQ_SET_DELAYED_AUTH_ENABLED",
                             {"enabled": True, "initialAmount": "1.00"},
                             "RES_ON_SET_DELAYED_AUTH_ENABLED")
        first = yield from c.sale("1.00")
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        c.answers["RES_ON_REQUEST_SET_AMOUNT"] = "refuse"
        c.send("REQ_PROCESS_SALE", {"amount": "1.00"})
        second = yield from c.wait_for(("RES_ON_CANCEL_TRANSACTION_ATTEMPT",
                                        "RES_ON_SALE_RESPONSE"), 300.0)
        return first, second

    first, second = gochip.run(script)
    prompt = next(m for m in c.received if m["type"] == "RES_ON_REQUEST_SET_AMOUNT")
    assert str(prompt["data"]["sale"]["amount"]) == "1"
    assert str(sale_of(first)["authorizedAmount"]) == "17"
    assert second is not None and second["type"] == "RES_ON_CANCEL_TRANSACTION_ATTEMPT"
    assert second["data"]["cancellationStatus"] == "CANCELLED"
    check_invariants(gochip)


@pytest.mark.parametrize("card", ["visa-expired", "mc-card-risk-decline",
                                  "visa-card-decline-2nd-gac", "mc-issuer-decline"])
@case("gochip/B.4/20", title="a card or issuer that declines ends the sale with code D and "
      "nothing booked", failure="a declined card is reported approved or leaves money booked")
def test_declining_cards(gochip: Any, card: str) -> None:
    gochip.present(card)
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "12.00")))
    assert s["code"] == "D" and str(s["authorizedAmount"]) == "0"
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)
