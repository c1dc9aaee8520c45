"""paymentsense-connect.md §4.7 and §5: values the scenario fixes, in a sale's receipt lines
and in a Pay-At-Table report when a diner's card is declined (checked against the
acquirer's ledger)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import SIGN
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
      "sale prints VOID on both copies, an accepted one does not; each copy names itself",
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
        if result == "VOID":
            assert voids, f"the {copy} copy of a voided sale does not say VOID"
        else:
            assert not voids, f"the {copy} copy of a paid sale says VOID"
    check_invariants(connect)
