"""semi-and-websockets.md §A.5 (TRAN_CODE 9, settlement): a batch of every kind, by value.

One POS sells by card and in cash, refunds both ways, voids a sale, adjusts a tip after
later transactions of other kinds, and leaves a pre-auth open; the settlement must count
each live transaction once, on its own side, with the tip inside the sale's total, leave
out the voided sale and the open pre-auth, and the pre-auth must still be capturable in
the next batch. Every expected figure is the sum of the amounts this case asked for.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, error_of, exchange, fetch, final_of, sale


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.5/13", title="settlement of a mixed batch: card and cash sales and refunds "
      "each counted on their side, the tip in the sale's total, the voided sale and the "
      "open pre-auth left out; the pre-auth is captured and settled in the next batch",
      section="A.5", failure="the batch totals count a cash refund as a sale, a voided sale "
      "or an open pre-auth as money, or lose the pre-auth when the batch closes")
def test_mixed_batch(valor: Any) -> None:
    valor.need_reference("the SALE_/REFUND_ split is the reference's batch report")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        out: dict[str, Any] = {}

        def run(name: str, request: dict[str, str]) -> Any:
            res = yield from exchange(pos, {**request, "REQ_TXN_ID": f"MB-{name}"})
            out[name] = final_of(res)
            return out[name]

        s1 = yield from run("sale", sale(1000))
        pre = yield from run("preauth", {"TRAN_MODE": "1", "TRAN_CODE": "3", "AMOUNT": "2000"})
        s2 = yield from run("sale2", sale(500))
        yield from run("void", fetch("2", AMOUNT="0", TRAN_NO=s2["TRAN_NO"]))
        yield from run("refund", {"TRAN_MODE": "1", "TRAN_CODE": "5", "AMOUNT": "300"})
        yield from run("cash", {"TRAN_MODE": "6", "TRAN_CODE": "1", "AMOUNT": "800"})
        yield from run("cash_refund", {"TRAN_MODE": "6", "TRAN_CODE": "5", "AMOUNT": "200"})
        # the sale is found behind the refunds and cash of other kinds
        yield from run("tip", fetch("20", TIP_AMOUNT="150", TRAN_NO=s1["TRAN_NO"]))
        yield from run("settle", fetch("9"))
        yield from run("ticket", fetch("4", AMOUNT="1800", TRAN_NO=pre["TRAN_NO"]))
        yield from run("settle2", fetch("9"))
        res = yield from exchange(pos, fetch("9", REQ_TXN_ID="MB-settle3"))
        out["settle3"] = res
        return out

    out = valor.run(script)
    for name in ("sale", "preauth", "sale2", "void", "refund", "cash", "cash_refund", "tip",
                 "settle", "ticket", "settle2"):
        assert out[name]["STATE"] == "0", (name, out[name])
    assert out["cash"]["TRAN_TYPE"] == out["cash_refund"]["TRAN_TYPE"] == "Cash"
    assert (out["tip"]["TRAN_NO"], out["tip"]["TOTAL_AMOUNT"]) == (out["sale"]["TRAN_NO"],
                                                                   "1150"), out["tip"]
    settle = out["settle"]
    sales, refunds = 1000 + 150 + 800, 300 + 200
    assert {k: settle[k] for k in ("TOTAL_TRAN_COUNT", "SALE_COUNT", "SALE_AMOUNT",
                                   "REFUND_COUNT", "REFUND_AMOUNT", "AMOUNT")} == {
        "TOTAL_TRAN_COUNT": "4", "SALE_COUNT": "2", "SALE_AMOUNT": str(sales),
        "REFUND_COUNT": "2", "REFUND_AMOUNT": str(refunds), "AMOUNT": str(sales - refunds),
    }, settle
    ticket = out["ticket"]
    assert (ticket["ORIGINAL_TRAN_NO"], ticket["AMOUNT"]) == (out["preauth"]["TRAN_NO"],
                                                              "1800"), ticket
    settle2 = out["settle2"]
    assert int(settle2["BATCH_NO"]) == int(settle["BATCH_NO"]) + 1, (settle, settle2)
    assert {k: settle2[k] for k in ("TOTAL_TRAN_COUNT", "SALE_COUNT", "REFUND_COUNT",
                                    "AMOUNT")} == {
        "TOTAL_TRAN_COUNT": "1", "SALE_COUNT": "1", "REFUND_COUNT": "0", "AMOUNT": "1800",
    }, settle2
    error_of(out["settle3"], "No Transaction To Settle")
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.5/14", title="a sale with TIP_AMOUNT charges the tip on top: AMOUNT, "
      "TIP_AMOUNT and TOTAL_AMOUNT by value, the total at the acquirer; a TIP_AMOUNT that is "
      "not a number is 'Invalid Amount'", section="A.5",
      failure="a tip the POS sent is dropped, charged instead of the amount, or a bad tip "
      "is charged anyway")
def test_sale_with_tip_amount(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        tipped = yield from exchange(pos, sale(1250, TIP_AMOUNT="200", REQ_TXN_ID="TP-1"))
        bad = yield from exchange(pos, sale(1250, TIP_AMOUNT="2.00x", REQ_TXN_ID="TP-2"))
        return tipped, bad

    tipped, bad = valor.run(script)
    final = final_of(tipped)
    assert (final["STATE"], final["AMOUNT"], final["TIP_AMOUNT"], final["TOTAL_AMOUNT"]) == (
        "0", "1250", "200", "1450"), final
    error_of(bad, "Invalid Amount")
    if valor.reference:
        charged = [e.amount for e in valor.terminal.acquirer.ledger.entries
                   if e.kind == "sale" and e.approved]
        assert charged == [1450], charged
    check_invariants(valor)
