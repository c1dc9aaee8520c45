"""payworks-p3.md §4.4 (execute), §5.4 (receipts), §7.1/§7.5 (charge flows), §11 (digits)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, states, tx_of


def _charge(p3: Any, amount: str, **extra: Any):  # type: ignore[no-untyped-def]
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=amount, **extra)
        return tag, (yield from c.final(tag))

    tag, final = p3.run(script)
    return c, tag, final


@case("p3/7.1/1", title="chip + PIN charge: updates in order, approved, one final response",
      section="7.1", failure="a chip+PIN charge does not complete as documented")
def test_chip_pin_charge(p3: Any) -> None:
    c, tag, final = _charge(p3, "40.00")
    t = tx_of(final)
    assert t["status"] == "APPROVED" and t["statusDetails"]["code"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == "PIN"
    seen = states(c, tag)
    order = ["PROCESSING_WAITING_FOR_CARD_PRESENTATION", "PROCESSING_WAITING_FOR_PIN",
             "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL", "PROCESSING_WAITING_FOR_CARD_REMOVAL"]
    idx = [seen.index(s) for s in order]
    assert idx == sorted(idx), f"updates out of order: {seen}"
    assert [m["type"] for m in c.messages(tag)].count("EXECUTE_TRANSACTION_RESPONSE") == 1
    check_invariants(p3)


@case("p3/4.4/1", title="updates carry state, state details, two display lines and abortable",
      section="4.4", failure="an update lacks a documented field")
def test_update_shape(p3: Any) -> None:
    c, tag, _ = _charge(p3, "5.00")
    updates = [m for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]
    assert updates
    for u in updates:
        body = u["executeTransactionUpdate"]
        assert isinstance(body["abortable"], bool)
        info = body["details"]["information"]
        assert len(info) == 2 and all(len(line) <= 40 for line in info)
        assert body["details"]["state"] and body["details"]["stateDetails"]


@case("p3/4.4/2", title="the final response carries the whole transaction", section="4.4",
      failure="the final transaction misses identifiers, details or amounts")
def test_final_transaction_shape(p3: Any) -> None:
    _, _, final = _charge(p3, "5.00", subject="Order 4711", customIdentifier="order4711")
    t = tx_of(final)
    assert len(t["identifier"]) == 32
    for key in ("type", "amount", "currency", "status", "statusDetails", "paymentDetails",
                "cardDetails", "clearingDetails", "merchantReceipt", "customerReceipt"):
        assert key in t, key
    assert str(t["amount"]) == "5.00" and t["subject"] == "Order 4711"
    assert "*" in t["cardDetails"]["maskedCardNumber"]


@case("p3/4.4/3", title="an unknown device resource gets ACCESSORY_NOT_FOUND", section="4.4",
      failure="a request to a device that does not exist is not refused")
def test_unknown_resource(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        return (yield from c.final(c.execute("devices/noSuchReader", amount="5.00")))

    resp = p3.run(script)
    assert resp["status"] == "ERROR" and resp["error"]["type"] == "ACCESSORY_NOT_FOUND"


@case("p3/5.4/1", title="receipts have data{KEY:{key,label,value}}, the three lists and flags",
      section="5.4", failure="receipts do not follow the documented shape")
def test_receipt_shape(p3: Any) -> None:
    _, _, final = _charge(p3, "5.00")
    t = tx_of(final)
    for name, kind in (("merchantReceipt", "Merchant Receipt"),
                       ("customerReceipt", "Customer Receipt")):
        r = t[name]
        assert r["data"]["RECEIPT_TYPE"]["value"] == kind
        for key, item in r["data"].items():
            assert item["key"] == key and "label" in item and "value" in item
        for lst in ("merchantDetails", "paymentDetails", "clearingDetails"):
            assert isinstance(r[lst], list)
        assert isinstance(r["tipLineRequired"], bool)
        assert isinstance(r["signatureLineRequired"], bool)


@pytest.mark.parametrize("amount, status, code", [
    ("100.00", "DECLINED", "DECLINED_CARD_OR_TERMINAL_DECLINED"),
    ("200.00", "DECLINED", "DECLINED_PROCESSOR"),
    ("300.00", "DECLINED", "DECLINED_CARD_BLOCKED"),
    ("21.00", "DECLINED", "DECLINED_PIN_WRONG_TOO_OFTEN"),
])
@case("p3/7.5/1", title="declines follow the test amount digits and still carry receipts",
      section="7.5", failure="a decline has the wrong status, code or no receipts")
def test_declines(p3: Any, amount: str, status: str, code: str) -> None:
    _, _, final = _charge(p3, amount)
    t = tx_of(final)
    assert (t["status"], t["statusDetails"]["code"]) == (status, code)
    assert "merchantReceipt" in t
    check_invariants(p3)


@pytest.mark.parametrize("amount, verification", [
    ("5.00", "NONE"), ("22.00", "PIN"), ("40.00", "PIN"), ("1500.00", "NONE"),
])
@case("p3/11/1", title="the Payworks test amount digits decide the cardholder verification",
      section="11", failure="the amount digits do not drive the documented behaviour")
def test_amount_digits(p3: Any, amount: str, verification: str) -> None:
    _, _, final = _charge(p3, amount)
    t = tx_of(final)
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == verification


@case("p3/7.8/1", title="a charge without auto-capture is approved but not captured",
      section="7.8", failure="autoCapture false still captures")
def test_preauthorisation(p3: Any) -> None:
    _, _, final = _charge(p3, "5.00", autoCapture=False)
    t = tx_of(final)
    assert t["status"] == "APPROVED" and t["captured"] is False
    check_invariants(p3)
