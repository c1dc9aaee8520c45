"""paymentsense-connect.md §4.7 and §5: values the scenario fixes, in a sale's receipt lines
and in a Pay-At-Table report when a diner's card is declined (checked against the
acquirer's ledger)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import GBP, SIGN
from .steps import check_invariants
from .test_pac import sale
from .test_pat import serve_table


@case("connect/5/6", title="a split bill whose second card is declined: that payment is "
      "DECLINED with amountPaid 0, the report's amountTotal is what was paid and "
      "amountOutstanding the rest, and the acquirer booked only the first part",
      section="5", failure="a declined part is reported paid, or the totals do not add up")
def test_split_bill_with_a_decline(connect: Any) -> None:
    tables = {"T5": Table("T5", 4321)}
    plan = WaiterPlan(table="T5", parts=2, cards=["visa-chip-pin", "mc-issuer-decline"])
    c, _ = serve_table(connect, plan, tables=tables)
    (report,) = [r["params"] for r in c.server_requests if r["method"] == "transactionResponse"]
    first, second = report["payments"]
    assert (first["transactionResult"], first["amountPaid"]) == ("SUCCESSFUL", 2161), first
    assert second["transactionResult"] in ("DECLINED", "UNSUCCESSFUL"), second
    assert second["amountPaid"] == 0, "a declined payment is reported as paid"
    assert (report["amountTotal"], report["amountOutstanding"]) == (2161, 2160), report
    assert report["currency"] == "GBP"
    assert tables["T5"].paid == 2161
    ledger = connect.server.acquirer.ledger
    approved = [(e.kind, e.amount) for e in ledger.entries if e.approved]
    assert approved == [("sale", 2161)], approved
    check_invariants(connect)


@pytest.mark.parametrize("policy, result", [("accept", "SUCCESSFUL"), ("decline", "VOID")])
@case("connect/4.7/2", title="the receipt lines say the result: a declined signature's VOID "
      "sale prints VOID on both copies, an accepted one does not; each copy names itself "
      "and the customer's never asks for a signature",
      section="4.7", failure="a voided sale's receipt reads like a paid one, or the reverse")
def test_receipt_lines_carry_the_result(connect: Any, policy: str, result: str) -> None:
    connect.choose(SIGN, "mc-chip-signature")
    c = connect.open(signature=policy)
    tx = sale(connect, c, tid=SIGN, amount=2500)
    assert tx["transactionResult"] == result
    for copy in ("MERCHANT", "CUSTOMER"):
        lines = tx["receiptLines"][copy]
        values = [line["value"] for line in lines]
        assert f"{copy} COPY" in values, values
        assert "£25.00" in " ".join(values), values
        voids = [line for line in lines if line["value"] == "VOID"]
        if copy == "CUSTOMER":
            assert "PLEASE SIGN BELOW" not in values, "the customer's copy asks for a signature"
        if result == "VOID":
            assert voids, f"the {copy} copy of a voided sale does not say VOID"
        else:
            assert not voids, f"the {copy} copy of a paid sale says VOID"
    check_invariants(connect)


@case("connect/5/7", title="a bill split in three parts that do not divide evenly: the "
      "first part takes the odd penny (334, 333, 333) and the parts add up to the bill",
      section="5", failure="the parts of a split bill do not add up, or the odd penny moves")
def test_split_in_three(connect: Any) -> None:
    tables = {"T7": Table("T7", 1000)}
    c, _ = serve_table(connect, WaiterPlan(table="T7", parts=3), tables=tables)
    (report,) = [r["params"] for r in c.server_requests if r["method"] == "transactionResponse"]
    assert [p["amountPaid"] for p in report["payments"]] == [334, 333, 333], report
    assert (report["amountTotal"], report["amountOutstanding"]) == (1000, 0), report
    assert tables["T7"].paid == 1000
    check_invariants(connect)


@case("connect/2.4/3", title="PAT: an EPoS's Pay-At-Counter socket that comes and goes does "
      "not change which PAT socket is current; the next PAT socket still discontinues it",
      section="2.4", failure="after a PAC socket closes, two PAT sockets are served at once")
def test_pac_socket_leaves_pat_alone(connect: Any) -> None:
    old = connect.open("/pat", name="pat-old")
    connect.settle(0.1)
    pac = connect.open(name="pac-passing")
    connect.settle(0.1)
    pac.end.close()
    connect.settle(0.5)
    assert not old.closed, "closing a PAC socket closed the PAT socket"
    new = connect.open("/pat", name="pat-new")
    connect.settle(0.5)
    assert old.closed, "the older PAT socket is still open beside the new one"
    errs = [m for m in old.received if "error" in m]
    assert errs and "discontinued" in errs[-1]["error"]["message"].lower(), old.received
    assert not new.closed


@case("connect/4.8/3", title="an X report after two sales without gratuity or cashback: those "
      "totals are zero, the sales 1500 in 2", section="4.8",
      failure="a report shows gratuity or cashback the terminal never took")
def test_report_zero_totals(connect: Any) -> None:
    c = connect.open()
    sale(connect, c, amount=1000)
    sale(connect, c, amount=500)
    rsp = connect.run(lambda: c.call("reportXBalance", {"tid": GBP}))
    b = rsp.result["balances"]
    assert (b["totalSalesAmount"], b["totalSalesCount"]) == (1500, 2), b
    assert (b["totalGratuityAmount"], b["totalGratuityCount"]) == (0, 0), b
    assert (b["totalCashbackAmount"], b["totalCashbackCount"]) == (0, 0), b
    check_invariants(connect)
