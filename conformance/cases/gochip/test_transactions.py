"""semi-and-websockets.md §B.5: refunds, cancel, consults, batch, device, amount calculation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from conformance import case

from .steps import check_invariants, error_of, sale_of, setup_and_sell

TEST_PAN = "4111111111111111"


def _sold(c: Any, amount: str = "30.00") -> Any:
    final = yield from setup_and_sell(c, amount)
    return sale_of(final)


@case("gochip/B.5/1", title="referenced refund: REQ_PROCESS_REFUND by uniqueRef answers "
      "RES_ON_REFUND_RESPONSE and the acquirer books it", failure="a referenced refund fails")
def test_referenced_refund(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        s = yield from _sold(c)
        return (yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": s["uniqueRef"],
                                                            "amount": "10.00",
                                                            "reason": "customer"},
                                     "RES_ON_REFUND_RESPONSE"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_REFUND_RESPONSE", got
    r = got["data"]["refundResponse"]
    assert r["code"] == "A" and Decimal(str(r["refundedAmount"])) == Decimal("10")
    check_invariants(gochip)


@case("gochip/B.5/2", title="a refund above what is left, or of an unknown sale, is refused",
      failure="the agent refunds more than was sold, or a sale it never made")
def test_refund_refused(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        s = yield from _sold(c, "30.00")
        over = yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": s["uniqueRef"],
                                                           "amount": "30.01"},
                                    "RES_ON_REFUND_RESPONSE")
        unknown = yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": "NOSUCHREF1",
                                                              "amount": "1.00"},
                                       "RES_ON_REFUND_RESPONSE")
        return over, unknown

    over, unknown = gochip.run(script)
    error_of(over, "REQ_PROCESS_REFUND")
    error_of(unknown, "REQ_PROCESS_REFUND")
    check_invariants(gochip)


@case("gochip/B.5/3", title="unreferenced keyed refund answers RES_ON_REFUND_RESPONSE with the "
      "card masked", failure="an unreferenced refund fails or shows the card number")
def test_unreferenced_keyed_refund(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        return (yield from c.request("REQ_PROCESS_UNREFERENCED_REFUND", {
            "amount": "8.00", "cardNumber": TEST_PAN, "expiryDate": "1230", "cardCvv": "123",
            "cardHolderName": "TEST CARD", "reason": "return"}, "RES_ON_REFUND_RESPONSE"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_REFUND_RESPONSE", got
    r = got["data"]["refundResponse"]
    assert r["code"] == "A" and r["cardNumber"] == "411111******1111"
    if gochip.kind == "virtual":  # both ends' transcripts are ours: no CVV in them
        frames = [e for e in gochip.world.transcript if e.port in ("pos", "gochip:pos")]
        texts = [bytes.fromhex(e.hex.replace(" ", "")).decode("utf-8", "replace")
                 for e in frames if e.hex]
        keyed = [t for t in texts if "REQ_PROCESS_UNREFERENCED_REFUND" in t]
        assert keyed, "the keyed refund is not in the transcript"
        assert not any('"123"' in t or TEST_PAN in t for t in keyed), keyed
    check_invariants(gochip)


@case("gochip/B.5/4", title="unreferenced refund with the card on the reader",
      failure="a card-present unreferenced refund fails")
def test_unreferenced_card_refund(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_UNREFERENCED_REFUND", {"amount": "6.00"})
        return (yield from c.final())

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_REFUND_RESPONSE", got
    assert got["data"]["refundResponse"]["code"] == "A"
    assert "PRESENT_CARD" in c.messages() or not gochip.reference
    check_invariants(gochip)


@case("gochip/B.5/5", title="cancel while the reader waits for the card: CANCELLING then "
      "CANCELLED, nothing booked", failure="a cancel before the card is not honoured")
def test_cancel_waiting_for_card(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "9.00"})
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)  # PRESENT_CARD
        c.send("REQ_CANCEL_TRANSACTION", {})
        first = yield from c.wait_for("RES_ON_CANCEL_TRANSACTION_ATTEMPT", 30.0)
        second = yield from c.wait_for(("RES_ON_CANCEL_TRANSACTION_ATTEMPT",
                                        "RES_ON_SALE_RESPONSE"), 60.0)
        return first, second

    first, second = gochip.run(script)
    assert first["data"]["cancellationStatus"] == "CANCELLING"
    assert second is not None and second["type"] == "RES_ON_CANCEL_TRANSACTION_ATTEMPT", second
    assert second["data"]["cancellationStatus"] == "CANCELLED"
    if gochip.reference:
        assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.5/6", title="cancel once the gateway is asked: NOT_ALLOWED and the sale "
      "completes", failure="a late cancel is accepted or breaks the sale")
def test_cancel_too_late(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "9.00"})
        while True:
            m = yield from c.wait_for("RES_ON_MESSAGE", 120.0)
            assert m is not None, "no PROCESSING message"
            if m["data"]["message"] == "PROCESSING":
                break
        c.send("REQ_CANCEL_TRANSACTION", {})
        attempt = yield from c.wait_for("RES_ON_CANCEL_TRANSACTION_ATTEMPT", 30.0)
        final = yield from c.final()
        return attempt, final

    attempt, final = gochip.run(script)
    assert attempt["data"]["cancellationStatus"] == "NOT_ALLOWED"
    assert sale_of(final)["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.5/7", title="cancel with nothing running: NOTHING_TO_CANCEL",
      failure="a cancel with no transaction is not answered NOTHING_TO_CANCEL")
def test_nothing_to_cancel(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        return (yield from c.request("REQ_CANCEL_TRANSACTION", {},
                                     "RES_ON_CANCEL_TRANSACTION_ATTEMPT"))

    got = gochip.run(script)
    assert got["data"]["cancellationStatus"] == "NOTHING_TO_CANCEL"


@case("gochip/B.5/8", title="REQ_GET_TRANSACTIONS lists the sales with the documented fields",
      failure="the transaction list misses sales or fields")
def test_transaction_list(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        s = yield from _sold(c, "11.00")
        got = yield from c.request("REQ_GET_TRANSACTIONS", {"filter": {"orderId": s["orderId"]}},
                                   "RES_ON_TRANSACTION_LIST_RESPONSE")
        return s, got

    s, got = gochip.run(script)
    rows = got["data"]["transactions"]
    assert [r["uniqueRef"] for r in rows] == [s["uniqueRef"]]
    for key in ("orderId", "uniqueRef", "amount", "cardNumber", "cardType", "transactionDate",
                "transactionState", "transactionStatus", "transactionType"):
        assert key in rows[0], key
    assert "*" in rows[0]["cardNumber"]


@case("gochip/B.5/9", title="REQ_CLOSE_TRANSACTIONS_BATCH totals the approved sales and refunds "
      "and closes them", failure="the batch totals do not match what was approved")
def test_close_batch(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        # close what earlier clients left open, so this batch holds this case's only
        yield from c.request("REQ_CLOSE_TRANSACTIONS_BATCH", {},
                             "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE")
        s = sale_of((yield from c.sale("25.00")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": s["uniqueRef"],
                                                    "amount": "5.00"}, "RES_ON_REFUND_RESPONSE")
        batch = yield from c.request("REQ_CLOSE_TRANSACTIONS_BATCH", {},
                                     "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE")
        listing = yield from c.request("REQ_GET_TRANSACTIONS", {},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        return batch, listing

    batch, listing = gochip.run(script)
    b = batch["data"]["batch"]
    assert Decimal(str(b["netTotal"])) == Decimal("20")
    assert {r["transactionState"] for r in listing["data"]["transactions"]} == {"CLOSED"}
    check_invariants(gochip)


@case("gochip/B.5/10", title="REQ_GET_DEVICE_INFO answers RES_ON_DEVICE_INFO_RETURNED",
      failure="device information cannot be read")
def test_device_info(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        dev = yield from c.setup()
        info = yield from c.request("REQ_GET_DEVICE_INFO", {}, "RES_ON_DEVICE_INFO_RETURNED")
        return dev, info

    dev, info = gochip.run(script)
    assert info["type"] == "RES_ON_DEVICE_INFO_RETURNED", info
    assert info["data"]["deviceInfo"]["serialNumber"] == dev["data"]["deviceInfo"]["serialNumber"]


@case("gochip/B.5/11", title="after REQ_DISCONNECT_DEVICE a sale is refused until the device "
      "is connected again", failure="the agent sells on a disconnected device")
def test_disconnect_device(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_DISCONNECT_DEVICE", {})
        yield gochip.world.timeout(0.5)
        return (yield from c.request("REQ_PROCESS_SALE", {"amount": "5.00"},
                                     "RES_ON_SALE_RESPONSE"))

    error_of(gochip.run(script), "REQ_PROCESS_SALE")


@case("gochip/B.5/12", title="REQ_GET_CALCULATED_AMOUNT adds tax and tip from the settings",
      failure="the calculated amount is wrong")
def test_calculated_amount(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        s = next(m for m in c.received if m["type"] == "RES_ON_SETTINGS_RETRIEVED")
        tax = s["data"]["settings"]["taxList"][0]
        tip = s["data"]["settings"]["tipList"][0]
        got = yield from c.request("REQ_GET_CALCULATED_AMOUNT",
                                   {"amount": "100.00", "tax": tax["uid"], "tip": tip["uid"]},
                                   "RES_ON_CALCULATED_AMOUNT_RESPONSE")
        return tax, tip, got

    tax, tip, got = gochip.run(script)
    calc = got["data"]["calculatedAmount"]
    expect_tax = Decimal(str(tax["percentage"]))
    expect_tip = Decimal(str(tip.get("percentage", tip.get("amount", 0))))
    assert Decimal(str(calc["taxAmount"])) == expect_tax
    assert Decimal(str(calc["tipAmount"])) == expect_tip
    assert Decimal(str(calc["totalAmount"])) == 100 + expect_tax + expect_tip
