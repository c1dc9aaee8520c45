"""paymentsense-connect.md §10: v0 behind api-version=v0 (tpi, terminalsDetails,
cancelled, capabilities)."""

from __future__ import annotations

from typing import Any

from conformance import case

from .conftest import GBP
from .steps import check_invariants, final, values


@case("connect/10/1", title="v0 lists terminals with tpi and capabilities", section="10",
      failure="v0 terminals carry v1 names or lack capabilities")
def test_v0_terminals(connect: Any) -> None:
    c = connect.open(version="v0")

    def script():  # type: ignore[no-untyped-def]
        listed = yield from c.call("connectedTerminals")
        details = yield from c.call("terminalsDetails", {"tpis": [GBP]})
        v1_name = yield from c.call("terminalDetails", {"tid": GBP})
        return listed.result, details.result, v1_name

    listed, details, v1_name = connect.run(script)
    assert all("tpi" in t and "tid" not in t and "SALE" in t["capabilities"] for t in listed)
    assert details == [t for t in listed if t["tpi"] == GBP]
    assert v1_name.error is not None and v1_name.error.code == -32601


@case("connect/10/2", title="a v0 sale: tpi in params, notifications and result",
      section="10", failure="v0 sales fail or speak v1")
def test_v0_sale(connect: Any) -> None:
    c = connect.open(version="v0")
    rsp = connect.run(lambda: c.transaction("sale", GBP, 640))
    tx = rsp.result
    assert tx["tpi"] == GBP and "tid" not in tx and tx["transactionResult"] == "SUCCESSFUL"
    assert all(tid == GBP for tid, _ in c.notifications)
    assert "ATTEMPTING_CANCEL" not in values(c)
    check_invariants(connect)


@case("connect/10/3", title="v0 refuses v1-only methods and parameters", section="10",
      failure="v1 additions are accepted on v0")
def test_v0_refuses_v1(connect: Any) -> None:
    c = connect.open(version="v0")

    def script():  # type: ignore[no-untyped-def]
        pre = yield from c.call("preAuth", {"tpi": GBP, "currency": "GBP", "amount": 100})
        cash = yield from c.call("sale", {"tpi": GBP, "currency": "GBP", "amount": 100,
                                          "amountCashback": 100})
        return pre, cash

    pre, cash = connect.run(script)
    assert pre.error is not None and pre.error.code == -32601
    assert cash.error is not None and cash.error.code == -32602


@case("connect/10/4", title="v0 cancelTransaction answers cancelled", section="10",
      failure="v0 cancel answers the v1 shape")
def test_v0_cancel(connect: Any) -> None:
    # the cancel moment is chosen through the cardholder
    connect.choose(GBP, "visa-chip-pin", think_s=(20.0, 20.0), presentation="insert")
    c = connect.open(version="v0")

    def script():  # type: ignore[no-untyped-def]
        rid = c.request("sale", {"tpi": GBP, "currency": "GBP", "amount": 300})
        while "PRESENT_CARD" not in values(c):
            yield connect.world.timeout(0.1)
        answer = yield from c.call("cancelTransaction", {"tpi": GBP})
        tx = yield from final(c, rid)
        c.remember(tx)
        return answer.result, tx

    answer, tx = connect.run(script)
    assert answer == {"cancelled": True} and tx["transactionResult"] == "CANCELLED"
    check_invariants(connect)


@case("connect/10/5", title="v0 refund, duplicate and the four reports with tpi",
      section="10", failure="a v0 method fails or answers with v1 names")
def test_v0_other_methods(connect: Any) -> None:
    c = connect.open(version="v0")

    def script():  # type: ignore[no-untyped-def]
        sale = yield from c.transaction("sale", GBP, 900)
        refund = yield from c.transaction("refund", GBP, 400)
        dup = yield from c.call("duplicate", {"tpi": GBP})
        reports = []
        for method in ("reportXBalance", "reportZBalance", "reportBanking", "reportEndOfDay"):
            reports.append((yield from c.call(method, {"tpi": GBP})))
        return sale.result, refund.result, dup.result, [r.result for r in reports]

    sale, refund, dup, reports = connect.run(script)
    assert sale["transactionResult"] == refund["transactionResult"] == "SUCCESSFUL"
    assert refund["transactionType"] == "REFUND" and refund["tpi"] == GBP
    assert dup["transactionId"] == refund["transactionId"] and "tid" not in dup
    assert [r["reportType"] for r in reports] == ["X_BALANCE", "Z_BALANCE", "BANKING",
                                                  "END_OF_DAY"]
    assert all(r["tpi"] == GBP and "tid" not in r for r in reports)
    assert reports[0]["balances"]["totalAmount"] == 500
    check_invariants(connect)


@case("connect/10/6", title="v0 keyed entry: cardholderNotPresent is a v1 parameter, the "
      "operator keys the card on the PDQ instead; KEYED, NONE, masked PAN", section="10",
      failure="v0 takes the v1 parameter, or a card keyed on the PDQ fails or shows its PAN")
def test_v0_keyed(connect: Any) -> None:
    c = connect.open(version="v0")
    rsp = connect.run(lambda: c.call("sale", {"tpi": GBP, "currency": "GBP", "amount": 100,
                                              "cardholderNotPresent": True}))
    assert rsp.error is not None and rsp.error.code == -32602
    connect.choose(GBP, "visa-chip-pin", entry="keyed")
    tx = connect.run(lambda: c.transaction("sale", GBP, 1500)).result
    assert tx["tpi"] == GBP and tx["transactionResult"] == "SUCCESSFUL"
    assert tx["paymentMethod"] == "KEYED" and tx["cardHolderVerificationMethod"] == "NONE"
    assert tx["primaryAccountNumber"] == "************0010"
    assert values(c) == ["TRANSACTION_STARTED", "PRESENT_CARD", "PLEASE_WAIT", "CONNECTING",
                         "CONNECTION_MADE", "APPROVED", "TRANSACTION_FINISHED"]
    refund = connect.run(lambda: c.transaction("refund", GBP, 500)).result
    assert refund["transactionResult"] == "SUCCESSFUL" and refund["paymentMethod"] == "KEYED"
    check_invariants(connect)
