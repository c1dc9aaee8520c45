"""semi-and-websockets.md §A.6: values of the final frame that the scenario fixes."""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_invariants, exchange, fetch, final_of, sale


@case("valor/A.6/6", title="two sales, two cardholders: each final names its own card (the "
      "last four digits of the PAN) and its own amount, tip 0, not partial", section="A.6",
      failure="a final reports another card or amount than the sale it answers")
def test_finals_name_their_own_card(valor: Any) -> None:
    valor.need_reference("the cards the two cardholders hold are chosen")
    assert valor.terminal is not None
    # the reference's cardholders present these catalogue cards in turn: Amex, then Visa
    valor.terminal.card.cards = ("amex-chip-pin", "visa-chip-pin")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        first = yield from exchange(pos, sale(1250, REQ_TXN_ID="TURN-1"))
        second = yield from exchange(pos, sale(1300, REQ_TXN_ID="TURN-2"))
        return first, second

    first, second = (final_of(r) for r in valor.run(script))
    for final, last4, amount in ((first, "1006", "1250"), (second, "0010", "1300")):
        assert final["STATE"] == "0", final
        assert final["MASKED_PAN"].endswith(last4) and "*" in final["MASKED_PAN"], final
        assert (final["AMOUNT"], final["TIP_AMOUNT"], final["PARTIAL"]) == (amount, "0", "0")
    check_invariants(valor)


@case("valor/A.5/11", title="a void names the sale it voids: its TRAN_NO, amount and the "
      "card's masked PAN; a reprint by TRAN_NO reprints that transaction, not the last one",
      section="A.5", failure="a void or a reprint answers with another transaction's values")
def test_void_and_reprint_name_their_transaction(valor: Any) -> None:
    from .test_dictionary import _run, _tran_no

    res = _run(valor, sale(1250), sale(1300),
               lambda out: fetch("11", TRAN_NO=_tran_no(out, 0)),
               lambda out: fetch("2", AMOUNT="0", TRAN_NO=_tran_no(out, 0)))
    first, second, reprint, void = (final_of(r) for r in res)
    assert first["STATE"] == second["STATE"] == "0"
    assert (reprint["STATE"], reprint["TRAN_NO"], reprint["AMOUNT"]) == (
        "0", first["TRAN_NO"], "1250"), reprint
    assert reprint["MASKED_PAN"] == first["MASKED_PAN"]
    assert (void["STATE"], void["TRAN_NO"], void["AMOUNT"]) == ("0", first["TRAN_NO"],
                                                                 "1250"), void
    assert void["MASKED_PAN"] == first["MASKED_PAN"], "the void does not name the card"
    check_invariants(valor)
