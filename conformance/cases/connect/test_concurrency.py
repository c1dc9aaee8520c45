"""paymentsense-connect.md §7: one transaction per terminal, disconnects, the 200 s
timeout."""

from __future__ import annotations

from typing import Any

from conformance import case

from .conftest import GBP
from .steps import check_invariants, final, values


@case("connect/7/1", title="a second transaction on a busy terminal, from another socket, "
      "is refused busy and the terminal shows BUSY", section="7",
      failure="two transactions run on one terminal at once")
def test_busy_across_sockets(connect: Any) -> None:
    a, b = connect.open(name="epos-a"), connect.open(name="epos-b")

    def script():  # type: ignore[no-untyped-def]
        rid = a.request("sale", {"tid": GBP, "currency": "GBP", "amount": 1000})
        yield connect.world.timeout(0.5)
        listed = yield from b.call("terminalDetails", {"tid": GBP})
        second = yield from b.call("sale", {"tid": GBP, "currency": "GBP", "amount": 2000})
        if second is not None and second.error is None:
            b.remember(second.result)
        tx = yield from final(a, rid)
        a.remember(tx)
        return listed.result, second

    listed, second = connect.run(script)
    assert listed["status"] == "BUSY"
    assert second is not None and second.error is not None, \
        "the second sale ran on a busy terminal"
    assert second.error.code == -32071
    assert second.error.data and second.error.data.get("userMessage")
    check_invariants(connect)


@case("connect/7/2", title="the EPoS disconnects mid-sale: the terminal finishes, and "
      "duplicate tells the outcome on a new socket", section="7",
      failure="a sale is lost or doubled when the EPoS goes away")
def test_disconnect_mid_sale(connect: Any) -> None:
    a = connect.open(name="epos-a")

    def script():  # type: ignore[no-untyped-def]
        a.request("sale", {"tid": GBP, "currency": "GBP", "amount": 1500})
        while "PIN_ENTRY" not in values(a):
            yield connect.world.timeout(0.1)
        a.close()
        yield connect.world.timeout(30.0)

    connect.run(script)
    b = connect.open(name="epos-b")
    dup = connect.run(lambda: b.call("duplicate", {"tid": GBP}))
    assert dup.error is None and dup.result["amountBase"] == 1500
    b.remember(dup.result)
    check_invariants(connect)


@case("connect/7/3", title="a silent PDQ: TIMED_OUT and TRANSACTION_FINISHED after 200 s",
      section="7", failure="the transaction hangs or ends at another time")
def test_timed_out(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        start = connect.world.now
        rsp = yield from c.transaction("sale", "VCMINVLTIP0", 1000)
        assert rsp is not None and rsp.error is None, f"no transaction answer: {rsp}"
        return rsp.result, connect.world.now - start

    tx, took = connect.run(script)
    assert tx["transactionResult"] == "TIMED_OUT"
    assert values(c)[-1] == "TRANSACTION_FINISHED"
    if connect.reference:
        assert 199.0 <= took <= 202.0
    check_invariants(connect)
