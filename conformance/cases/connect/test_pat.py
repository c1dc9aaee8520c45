"""paymentsense-connect.md §5: Pay-At-Table, driven by the terminal (a scripted waiter)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import GBP
from .steps import check_invariants


def serve_table(connect: Any, plan: WaiterPlan, final_receipt: bool = False,
                **client: Any) -> tuple[Any, Any]:
    connect.need_reference("the waiter on the reference's terminal is scripted")
    url = connect.url_for("/pat")
    if final_receipt:
        url += "&final-pos-receipt-request"
    c = connect.try_open(url, "pat-epos", **client)
    assert not isinstance(c, tuple)
    proc = connect.server.start_waiter(GBP, plan)

    def script():  # type: ignore[no-untyped-def]
        yield proc
        return proc.value

    return c, connect.run(script)


@case("connect/5/1", title="a bill paid in two parts: list, lock, bill, two card payments, "
      "transactionResponse, unlock", section="5",
      failure="the PAT steps are missing, out of order, or the payments do not add up")
def test_split_bill(connect: Any) -> None:
    tables = {"T5": Table("T5", 4321), "T9": Table("T9", 1000)}
    c, outcome = serve_table(connect, WaiterPlan(table="T5", parts=2), tables=tables)
    methods = [r["method"] for r in c.server_requests]
    assert methods == ["tableListRequest", "tableLockRequest", "posReceiptRequest",
                       "transactionResponse", "tableUnlock"]
    report = c.server_requests[3]["params"]
    assert report["tableId"] == "T5" and report["amountTotal"] == 4321
    assert [p["amountPaid"] for p in report["payments"]] == [2161, 2160]
    assert all(p["primaryAccountNumber"].startswith("****") for p in report["payments"])
    assert tables["T5"].paid == 4321 and not tables["T5"].locked
    assert all(isinstance(r["id"], int) for r in c.server_requests)
    check_invariants(connect)


@case("connect/5/2", title="finalPOSReceiptRequest only with final-pos-receipt-request",
      section="5", failure="the final receipt is asked without the flag, or not with it")
def test_final_receipt_flag(connect: Any) -> None:
    c, _ = serve_table(connect, WaiterPlan(), final_receipt=True,
                       tables={"T1": Table("T1", 800)})
    methods = [r["method"] for r in c.server_requests]
    assert methods.index("transactionResponse") < methods.index("finalPOSReceiptRequest") \
        < methods.index("tableUnlock")
    check_invariants(connect)


@pytest.mark.parametrize("how", ["refused", "late"])
@case("connect/5/3", title="a refused or late lock takes no payment", section="5",
      failure="the terminal takes payment for a table it did not lock")
def test_lock_refused_or_late(connect: Any, how: str) -> None:
    client: dict[str, Any] = {"tables": {"T2": Table("T2", 900)}}
    if how == "refused":
        client["refuse_lock"] = True
    else:
        client["lock_delay"] = 45.0  # beyond the terminal's 30 s
    c, outcome = serve_table(connect, WaiterPlan(), **client)
    assert not outcome.locked and outcome.payments == []
    methods = [r["method"] for r in c.server_requests]
    assert "transactionResponse" not in methods
    if how == "late":
        connect.settle(20.0)
        later = [r["method"] for r in c.server_requests]
        assert later[-1] == "tableUnlock", "a lock confirmed too late was not given back"
    assert connect.server.acquirer.ledger.balance()["settled"] == 0


@case("connect/5/4", title="no open tables: nothing is locked or paid", section="5",
      failure="the terminal goes on without a table")
def test_no_tables(connect: Any) -> None:
    c, outcome = serve_table(connect, WaiterPlan(), tables={})
    assert [r["method"] for r in c.server_requests] == ["tableListRequest"]
    assert outcome.payments == []
