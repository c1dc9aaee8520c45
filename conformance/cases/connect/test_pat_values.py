"""paymentsense-connect.md §5: what the terminal tells the EPoS during Pay-At-Table, by
value: each request's params, each payment of the ``transactionResponse`` (the PAT REST
payment model of §5: ``amountPaid``, ``amountCashback``, ``amountGratuity``, ``authCode``,
``currency``, ``cardSchemeName``, ``paymentId``, ``paymentMethod``, ``time``), how a bill
is split when its parts run past it, and a lock answer that comes too late.
"""

from __future__ import annotations

import re
from typing import Any

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import GBP
from .steps import check_invariants
from .test_fields import card_facts
from .test_pat import serve_table

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def report_of(c: Any) -> dict[str, Any]:
    (report,) = [r["params"] for r in c.server_requests if r["method"] == "transactionResponse"]
    return report  # type: ignore[no-any-return]


@case("connect/5/8", title="each PAT message carries the terminal and the table; each "
      "payment of transactionResponse has its values: the part paid, no cashback or "
      "gratuity, GBP, the card's scheme and masked number, ICC_CHIP, an auth code, its own "
      "paymentId and a time", section="5",
      failure="a PAT message names another table or terminal, or a payment's field is "
      "wrong (a stray cashback or gratuity, a wrong card, a shared paymentId)")
def test_pat_payment_values(connect: Any) -> None:
    tables = {"T4": Table("T4", 3000), "T8": Table("T8", 500)}
    c, outcome = serve_table(connect, WaiterPlan(table="T4", parts=2), final_receipt=True,
                             tables=tables)
    asked = {r["method"]: r["params"] for r in c.server_requests}
    assert asked["tableListRequest"] == {"tid": GBP}, asked["tableListRequest"]
    for method in ("tableLockRequest", "posReceiptRequest", "finalPOSReceiptRequest",
                   "tableUnlock"):
        assert asked[method] == {"tid": GBP, "tableId": "T4"}, (method, asked[method])
    report = report_of(c)
    assert {k: report[k] for k in ("tid", "tableId", "currency", "amountTotal",
                                   "amountOutstanding")} == \
        {"tid": GBP, "tableId": "T4", "currency": "GBP", "amountTotal": 3000,
         "amountOutstanding": 0}, report
    card = card_facts("visa-chip-pin")
    for pay, part in zip(report["payments"], (1500, 1500), strict=True):
        want = {"amountPaid": part, "amountCashback": 0, "amountGratuity": 0,
                "currency": "GBP", "transactionResult": "SUCCESSFUL",
                "cardSchemeName": card["cardSchemeName"], "paymentMethod": "ICC_CHIP",
                "primaryAccountNumber": card["primaryAccountNumber"]}
        got = {k: pay.get(k) for k in want}
        assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        assert isinstance(pay["authCode"], str) and pay["authCode"], pay
        assert isinstance(pay["paymentId"], str) and pay["paymentId"], pay
        assert TIME.match(pay["time"]), pay["time"]
    first, second = report["payments"]
    assert first["paymentId"] != second["paymentId"]
    assert first["time"] <= second["time"]
    assert outcome["payments"] == report["payments"]
    assert tables["T4"].paid == 3000 and tables["T8"].paid == 0
    check_invariants(connect)


@case("connect/5/9", title="a bill of 2p split in three parts: two payments of 1p and no "
      "third of 0p; explicit parts that run past the bill stop at it (600 + 400 of 1000, "
      "nothing more)", section="5",
      failure="the terminal takes a zero payment, or charges more than the bill")
def test_split_parts_past_the_bill(connect: Any) -> None:
    tables = {"T2": Table("T2", 2)}
    c, outcome = serve_table(connect, WaiterPlan(table="T2", parts=3), tables=tables)
    report = report_of(c)
    assert [p["amountPaid"] for p in report["payments"]] == [1, 1], report
    assert outcome["splits"] == [1, 1], outcome
    assert (report["amountTotal"], report["amountOutstanding"]) == (2, 0)
    c.close()
    connect.settle(1.0)

    tables = {"T6": Table("T6", 1000)}
    c, outcome = serve_table(connect, WaiterPlan(table="T6", amounts=[600, 600, 300]),
                             tables=tables)
    report = report_of(c)
    assert [p["amountPaid"] for p in report["payments"]] == [600, 400], report
    assert outcome["splits"] == [600, 400], outcome
    assert (report["amountTotal"], report["amountOutstanding"]) == (1000, 0)
    assert tables["T6"].paid == 1000
    check_invariants(connect)


@case("connect/5/10", title="a lock refused too late: the waiter gave up, and the table, "
      "never locked, is not unlocked either; the waiter's number is the one it was given",
      section="5", failure="the terminal unlocks a table the EPoS refused to lock")
def test_late_refusal_not_unlocked(connect: Any) -> None:
    tables = {"T3": Table("T3", 700)}
    c, outcome = serve_table(connect, WaiterPlan(), tables=tables, refuse_lock=True,
                             lock_delay=45.0)
    assert not outcome["locked"] and outcome["payments"] == []
    connect.settle(20.0)  # the refusal has come by now
    methods = [r["method"] for r in c.server_requests]
    assert methods == ["tableListRequest", "tableLockRequest"], methods
    assert outcome["number"] == 1 and outcome["tid"] == GBP, outcome
    check_invariants(connect)


@case("connect/5/14", title="a split bill whose second card cannot be used (a mute chip, no "
      "stripe fallback): that payment is UNSUCCESSFUL with amountPaid 0, no auth code and a "
      "userMessage for staff; the report totals what the first card paid", section="5",
      failure="a payment that never happened is reported paid, or without a reason")
def test_pat_unusable_card(connect: Any) -> None:
    tables = {"T1": Table("T1", 1000)}
    plan = WaiterPlan(table="T1", parts=2, cards=["visa-chip-pin", "mc-mute-chip-fallback"])
    c, outcome = serve_table(connect, plan, tables=tables)
    report = report_of(c)
    first, second = report["payments"]
    assert (first["transactionResult"], first["amountPaid"]) == ("SUCCESSFUL", 500), first
    assert first["authCode"], first
    assert (second["transactionResult"], second["amountPaid"], second["authCode"]) == \
        ("UNSUCCESSFUL", 0, ""), second
    assert (second["amountCashback"], second["amountGratuity"], second["currency"]) == \
        (0, 0, "GBP"), second
    assert isinstance(second.get("userMessage"), str) and second["userMessage"], second
    assert (report["amountTotal"], report["amountOutstanding"]) == (500, 500), report
    assert tables["T1"].paid == 500
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["settled"] == 500
        from .test_sequences import removal_screens

        # the diner whose card failed is not shown APPROVED when taking it back
        assert [v.upper() for v in removal_screens(connect.world, GBP)] == \
            ["APPROVED", "NOT APPROVED"], removal_screens(connect.world, GBP)
    check_invariants(connect)
