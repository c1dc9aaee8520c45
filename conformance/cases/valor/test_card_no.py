"""semi-and-websockets.md §A.5: CARD_NO, the other key of a fetch request.

Void, tip adjust and reprint name their original by TRAN_NO or by CARD_NO, "last 4 of the
original card" (§A.5). Two cardholders with two cards pay in turn; each fetch by CARD_NO
must find the transaction of that card (its last four digits are read from the
sale's own MASKED_PAN), and a void by CARD_NO of a card whose sale is already voided
finds nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, error_of, exchange, fetch, final_of, sale


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.5/12", title="void, tip adjust and reprint by CARD_NO (the last four digits) "
      "find the sale of that card, not the last one", section="A.5",
      failure="a fetch by CARD_NO is refused or answers another card's transaction: the "
      "POS voids or tips the wrong customer")
def test_fetch_by_card_no(valor: Any) -> None:
    valor.need_reference("the cards the two cardholders hold are chosen")
    # the reference's cardholders present these catalogue cards in turn: Amex, then Visa
    valor.terminal.card.cards = ("amex-chip-pin", "visa-chip-pin")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        first = final_of((yield from exchange(pos, sale(1250, REQ_TXN_ID="CN-1"))))
        second = final_of((yield from exchange(pos, sale(1300, REQ_TXN_ID="CN-2"))))
        card1, card2 = first["MASKED_PAN"][-4:], second["MASKED_PAN"][-4:]
        tip = yield from exchange(pos, fetch("20", CARD_NO=card1, TIP_AMOUNT="150",
                                             REQ_TXN_ID="CN-3"))
        again = yield from exchange(pos, fetch("11", CARD_NO=card1, REQ_TXN_ID="CN-4"))
        other = yield from exchange(pos, fetch("11", CARD_NO=card2, REQ_TXN_ID="CN-7"))
        void = yield from exchange(pos, fetch("2", CARD_NO=card1, AMOUNT="0",
                                              REQ_TXN_ID="CN-5"))
        twice = yield from exchange(pos, fetch("2", CARD_NO=card1, AMOUNT="0",
                                               REQ_TXN_ID="CN-6"))
        return first, second, tip, again, other, void, twice

    first, second, tip, again, other, void, twice = valor.run(script)
    assert first["STATE"] == second["STATE"] == "0"
    assert first["MASKED_PAN"][-4:] == "1006" and second["MASKED_PAN"][-4:] == "0010"
    tip, again, other, void = (final_of(r) for r in (tip, again, other, void))
    assert (other["STATE"], other["TRAN_NO"], other["MER_TXN_ID"]) == (
        "0", second["TRAN_NO"], "CN-7"), other
    assert (tip["STATE"], tip["TRAN_NO"], tip["TIP_AMOUNT"], tip["TOTAL_AMOUNT"]) == (
        "0", first["TRAN_NO"], "150", "1400"), tip
    assert (again["STATE"], again["TRAN_NO"], again["MASKED_PAN"]) == (
        "0", first["TRAN_NO"], first["MASKED_PAN"]), again
    assert (void["STATE"], void["TRAN_NO"], void["MASKED_PAN"]) == (
        "0", first["TRAN_NO"], first["MASKED_PAN"]), void
    error_of(twice, "No Record Found!")
    check_invariants(valor)
