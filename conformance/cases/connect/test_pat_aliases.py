"""paymentsense-connect.md §5: the shapes an EPoS may give its table list and its lock
answer, each one the terminal must read.

The clone says the table list is "an array of table ids" (possibly empty) and the lock
answer ``confirmed`` with, when true, ``amount`` and ``currency``. EPoS software sends
that array bare or inside ``{"tables": [...]}``, with ids as strings or numbers, or with
table objects carrying ``tableId`` (the PAT REST model of §5); items that are none of
these (a boolean, null, an object without ``tableId``) name no table. A lock answer
without ``currency`` means the terminal's own; one without an integer ``amount`` is no
lock the terminal can charge.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import GBP
from .steps import check_invariants


def serve_with(connect: Any, tables: dict[str, Table], listing: Any = None,
               lock: Any = None) -> tuple[Any, dict[str, Any]]:
    """A waiter at the GBP terminal serves the EPoS, which lists its tables as ``listing``
    and answers the lock with ``lock`` (None: from its table book)."""
    c = connect.try_open(connect.url_for("/pat"), "pat-epos", tables=tables)
    assert not isinstance(c, tuple)
    own = c._answer

    def answer(req: Any) -> None:
        if req.method == "tableListRequest" and listing is not None:
            c.endpoint.result(req, listing)
        elif req.method == "tableLockRequest" and lock is not None:
            c.endpoint.result(req, lock)
        else:
            own(req)

    c._answer = answer
    number = connect.start_waiter(GBP, WaiterPlan())
    return c, connect.waiter_result(number)


@pytest.mark.parametrize("listing, table", [
    (["T1"], "T1"),
    ({"tables": ["T1"]}, "T1"),
    ([41], "41"),
    ({"tables": [{"tableId": "T1", "currency": "GBP", "amount": 900}]}, "T1"),
    ([{"tableId": 41}], "41"),
    ([True, None, {"name": "T9"}, 2.5, "T1"], "T1"),
], ids=["bare-ids", "wrapped-ids", "number-id", "objects", "object-number-id", "junk-first"])
@case("connect/5/11", title="the table list as a bare or wrapped array, of string or number "
      "ids or of objects with tableId; items that name no table are skipped", section="5",
      failure="the terminal cannot read a table list shape an EPoS sends, or takes junk "
      "for a table")
def test_table_list_shapes(connect: Any, listing: Any, table: str) -> None:
    tables = {table: Table(table, 900)}
    c, outcome = serve_with(connect, tables, listing)
    locks = [r["params"] for r in c.server_requests if r["method"] == "tableLockRequest"]
    assert locks == [{"tid": GBP, "tableId": table}], locks
    assert outcome["table"] == table and outcome["locked"], outcome
    assert [p["amountPaid"] for p in outcome["payments"]] == [900], outcome
    check_invariants(connect)


@pytest.mark.parametrize("listing", [[], {"tables": []}, [True, None, {"name": "T1"}],
                                     {"tables": "T1"}, "T1", None],
                         ids=["empty", "wrapped-empty", "junk", "not-a-list", "a-string",
                              "null"])
@case("connect/5/12", title="a table list that names no table (empty, junk, not a list, "
      "null): no lock is asked and nothing is paid", section="5",
      failure="the terminal locks or charges a table nobody listed")
def test_no_table_listed(connect: Any, listing: Any) -> None:
    tables = {"T1": Table("T1", 900)}
    c = connect.try_open(connect.url_for("/pat"), "pat-epos", tables=tables)
    assert not isinstance(c, tuple)
    own = c._answer

    def answer(req: Any) -> None:
        if req.method == "tableListRequest":
            c.endpoint.result(req, listing)
        else:
            own(req)

    c._answer = answer
    outcome = connect.waiter_result(connect.start_waiter(GBP, WaiterPlan()))
    assert [r["method"] for r in c.server_requests] == ["tableListRequest"]
    assert outcome["table"] is None and outcome["payments"] == [], outcome
    assert tables["T1"].paid == 0


@pytest.mark.parametrize("lock, paid", [
    ({"confirmed": True, "amount": 900}, 900),
    ({"confirmed": True, "amount": 900, "currency": "GBP"}, 900),
    ({"confirmed": True}, 0),
    ({"confirmed": True, "amount": "900", "currency": "GBP"}, 0),
    ({"confirmed": "true", "amount": 900, "currency": "GBP"}, 0),
    ({"confirmed": 1, "amount": 900, "currency": "GBP"}, 0),
    ({"confirmed": False, "amount": 900, "currency": "GBP"}, 0),
], ids=["no-currency", "full", "no-amount", "string-amount", "string-confirmed",
        "number-confirmed", "refused"])
@case("connect/5/13", title="a lock answer: confirmed true with an integer amount is a lock "
      "(currency defaults to the terminal's); anything else is no lock and nothing is "
      "charged", section="5",
      failure="the terminal charges a table whose lock it was not given, or refuses a "
      "lock answer without currency")
def test_lock_answer_shapes(connect: Any, lock: dict[str, Any], paid: int) -> None:
    tables = {"T1": Table("T1", 900)}
    c, outcome = serve_with(connect, tables, lock=lock)
    assert outcome["locked"] is bool(paid), outcome
    assert sum(p["amountPaid"] for p in outcome["payments"]) == paid, outcome
    methods = [r["method"] for r in c.server_requests]
    if paid:
        report = [r["params"] for r in c.server_requests
                  if r["method"] == "transactionResponse"]
        assert report and report[0]["currency"] == "GBP", report
        assert methods[-1] == "tableUnlock", methods
    else:
        assert methods == ["tableListRequest", "tableLockRequest"], methods
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["settled"] == paid
    check_invariants(connect)
