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
                **client: Any) -> tuple[Any, dict[str, Any]]:
    """Open the EPoS's /pat socket with its table book, have a waiter at the GBP terminal
    serve a table, and return the EPoS and what the waiter did (the control API's
    ``waiter_result`` shape, also on the reference)."""
    url = connect.url_for("/pat")
    if final_receipt:
        url += "&final-pos-receipt-request"
    c = connect.try_open(url, "pat-epos", **client)
    assert not isinstance(c, tuple)
    number = connect.start_waiter(GBP, plan)
    return c, connect.waiter_result(number)


def heard(connect: Any, c: Any, method: str, count: int, limit: float = 10.0) -> None:
    """Let the world run until the EPoS has received ``count`` ``method`` messages (a
    waiter's last words may still be on the socket when it has finished)."""
    def script():  # type: ignore[no-untyped-def]
        waited = 0.0
        while sum(m.get("method") == method for m in c.received) < count and waited < limit:
            yield connect.world.timeout(0.5)
            waited += 0.5

    connect.run(script)


@case("connect/5/1", title="a bill paid in two parts: list, lock, bill, two card payments, "
      "transactionResponse, unlock", section="5",
      failure="the PAT steps are missing, out of order, or the payments do not add up")
def test_split_bill(connect: Any) -> None:
    tables = {"T5": Table("T5", 4321), "T9": Table("T9", 1000)}
    before = connect.ledger_settled()
    c, outcome = serve_table(connect, WaiterPlan(table="T5", parts=2), tables=tables)
    methods = [r["method"] for r in c.server_requests]
    assert methods == ["tableListRequest", "tableLockRequest", "posReceiptRequest",
                       "transactionResponse", "tableUnlock"]
    report = c.server_requests[3]["params"]
    assert report["tableId"] == "T5" and report["amountTotal"] == 4321
    assert [p["amountPaid"] for p in report["payments"]] == [2161, 2160]
    # what the waiter says it did is what the EPoS was told
    assert outcome["finished"] and outcome["table"] == "T5" and outcome["locked"]
    assert outcome["amount"] == 4321 and outcome["splits"] == [2161, 2160]
    assert [p["transactionResult"] for p in outcome["payments"]] == ["SUCCESSFUL"] * 2
    assert [p["paymentId"] for p in outcome["payments"]] == \
        [p["paymentId"] for p in report["payments"]]
    if before is not None:
        assert connect.ledger_settled() == before + 4321, "the books differ from the bill"
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
    before = connect.ledger_settled()
    c, outcome = serve_table(connect, WaiterPlan(), **client)
    assert outcome["finished"] and not outcome["locked"] and outcome["payments"] == []
    assert outcome["splits"] == [] and outcome["table"] == "T2"
    methods = [r["method"] for r in c.server_requests]
    assert "transactionResponse" not in methods
    if how == "late":
        connect.settle(20.0)
        later = [r["method"] for r in c.server_requests]
        assert later[-1] == "tableUnlock", "a lock confirmed too late was not given back"
    assert connect.ledger_settled() == before


@case("connect/5/4", title="no open tables: nothing is locked or paid", section="5",
      failure="the terminal goes on without a table")
def test_no_tables(connect: Any) -> None:
    c, outcome = serve_table(connect, WaiterPlan(), tables={})
    assert [r["method"] for r in c.server_requests] == ["tableListRequest"]
    assert outcome["payments"] == [] and outcome["table"] is None
    assert "no open tables" in outcome["steps"]


@case("connect/5/5", title="errorMessage both ways: the terminal tells staff why a table was "
      "not served (busy terminal, late lock) with code, message and userMessage; the EPoS "
      "may send one", section="5",
      failure="the EPoS hears nothing when the waiter gives up, or its own errorMessage is "
      "refused")
def test_error_message(connect: Any) -> None:
    tables = {"T3": Table("T3", 700)}
    c, outcome = serve_table(connect, WaiterPlan(), tables=tables, lock_delay=45.0)
    assert not outcome["locked"]
    heard(connect, c, "errorMessage", 1)
    sent = [m for m in c.received if m.get("method") == "errorMessage"]
    assert len(sent) == 1 and "id" not in sent[0], "errorMessage is a notification"
    late = sent[0]["params"]
    assert late["code"] == -32070 and late["message"] == "Terminal unavailable"
    assert late["tableId"] == "T3" and late["tid"] == GBP and late["userMessage"]
    connect.settle(20.0)  # the lock confirmed too late is given back

    # a waiter at a terminal already serving a table is told the terminal is busy
    first = connect.start_waiter(GBP, WaiterPlan())
    second = connect.start_waiter(GBP, WaiterPlan())
    busy = connect.waiter_result(second)
    connect.waiter_result(first)
    assert "terminal busy" in busy["steps"] and busy["payments"] == []
    heard(connect, c, "errorMessage", 2)
    sent = [m["params"] for m in c.received if m.get("method") == "errorMessage"]
    busy_said = [p for p in sent if p["code"] == -32071]
    assert len(busy_said) == 1 and busy_said[0]["tid"] == GBP
    assert busy_said[0]["message"] == "Terminal busy" and busy_said[0]["userMessage"]

    # the EPoS's own errorMessage: a request is answered empty, a notification is not answered
    def epos_errors():  # type: ignore[no-untyped-def]
        c.send_raw('{"jsonrpc": "2.0", "method": "errorMessage", "params": {"code": 1, '
                   '"message": "till offline"}}')
        rsp = yield from c.call("errorMessage", {"code": 1, "message": "till offline",
                                                 "userMessage": "see the manager"})
        return rsp

    rsp = connect.run(epos_errors)
    assert rsp is not None and rsp.error is None and rsp.result == {}
    check_invariants(connect)
