"""paymentsense-connect.md §7: one transaction or report per terminal at a time, whatever
work is asked; asking about the terminal or cancelling is what an EPoS should do
meanwhile; and the terminal is free again, for every kind of work, once it is done."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants, final

WORK = [("sale", {"tid": GBP, "currency": "GBP", "amount": 700}),
        ("refund", {"tid": GBP, "currency": "GBP", "amount": 700}),
        ("preAuth", {"tid": GBP, "currency": "GBP", "amount": 700}),
        ("accountVerification", {"tid": GBP, "currency": "GBP", "amount": 0}),
        ("duplicate", {"tid": GBP}),
        ("reportXBalance", {"tid": GBP}),
        ("reportBanking", {"tid": GBP})]


@pytest.mark.parametrize("first", ["sale", "reportXBalance"])
@case("connect/7/5", title="while a sale or a report runs, every other piece of terminal "
      "work (each transaction kind, duplicate, each report) is refused -32071 with the tid, "
      "while terminalDetails says BUSY; afterwards AVAILABLE and each is taken", section="7",
      failure="some kind of work runs beside another on one terminal, or the terminal "
      "stays busy after it")
def test_busy_for_every_kind(connect: Any, first: str) -> None:
    c = connect.open()
    params = {"tid": GBP, "currency": "GBP", "amount": 1000} if first == "sale" \
        else {"tid": GBP}

    def script():  # type: ignore[no-untyped-def]
        rid = c.request(first, params)
        yield connect.world.timeout(0.2)  # the work has started
        during = yield from c.call("terminalDetails", {"tid": GBP})
        refused = []
        for method, p in WORK:
            rsp = yield from c.call(method, p)
            refused.append((method, rsp))
        done = yield from final(c, rid)
        c.remember(done)
        after = yield from c.call("terminalDetails", {"tid": GBP})
        return during.result, refused, after.result

    during, refused, after = connect.run(script)
    assert during["status"] == "BUSY", during
    for method, rsp in refused:
        assert rsp is not None and rsp.error is not None, f"{method} ran on a busy terminal"
        assert rsp.error.code == -32071, (method, rsp.error)
        assert (rsp.error.data or {}).get("tid") == GBP, (method, rsp.error)
    assert after["status"] == "AVAILABLE", after

    def each():  # type: ignore[no-untyped-def]
        out = []
        for method, p in WORK:
            rsp = yield from c.call(method, p)
            if rsp is not None and rsp.error is None and "transactionResult" in rsp.result:
                c.remember(rsp.result)
            out.append((method, rsp))
        return out

    for method, rsp in connect.run(each):
        assert rsp is not None and rsp.error is None, (method, rsp and rsp.error)
    check_invariants(connect)


@case("connect/10/7", title="v0: a cancel once authorisation has begun answers "
      "cancelled false and the sale completes", section="10",
      failure="v0 says a cancel worked when the sale went on")
def test_v0_cancel_too_late(connect: Any) -> None:
    c = connect.open(version="v0")

    def script():  # type: ignore[no-untyped-def]
        rid = c.request("sale", {"tpi": GBP, "currency": "GBP", "amount": 902})
        while "CONNECTING" not in [v for _, v in c.notifications]:
            yield connect.world.timeout(0.05)
        answer = yield from c.call("cancelTransaction", {"tpi": GBP})
        tx = yield from final(c, rid)
        c.remember(tx)
        return answer.result, tx

    answer, tx = connect.run(script)
    assert answer == {"cancelled": False}, answer
    assert tx["transactionResult"] == "SUCCESSFUL"
    check_invariants(connect)
