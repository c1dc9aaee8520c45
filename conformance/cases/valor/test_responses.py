"""semi-and-websockets.md §A.6: the final frame, partial approval, indeterminate STATE -2."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, exchange, final_of, sale

MINIMAL = ("STATE", "TRAN_TYPE", "TRAN_METHOD", "TXN_ID", "AMOUNT", "TOTAL_AMOUNT",
           "TIP_AMOUNT", "PARTIAL", "MASKED_PAN", "ENTRY_MODE", "RRN", "CODE", "AUTH_RSP_TEXT",
           "DATE", "TRAN_NO", "BATCH_NO", "STAN_ID", "ISSUER", "EPI", "SERIAL_NO")


@case("valor/A.6/1", title="an approved final carries the §A.9 field set, all strings, "
      "PAN masked, EMV data from the card", section="A.6",
      failure="the final frame lacks fields real clients read, or shows the PAN")
def test_final_fields(valor: Any) -> None:
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250, REQ_TXN_ID="F-1"))
    final = final_of(res)
    missing = [k for k in MINIMAL if k not in final]
    assert not missing, f"missing {missing}"
    assert final.get("MER_TXN_ID") == "F-1"
    assert "*" in final["MASKED_PAN"]
    assert len(final["RRN"]) == 12 and final["RRN"].isdigit()
    if valor.reference:
        assert final["AID"].startswith("A0000000") and len(final["TVR"]) == 10
        assert final["TSI"], "no TSI from the kernel run"
    check_invariants(valor)


@case("valor/A.6/2", title="partial approval: PARTIAL \"1\" and the approved part in AMOUNT",
      section="A.6", failure="a partial approval is not reported as such; the POS would "
      "collect the full amount the card did not cover")
def test_partial(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("the partial-approval amount is the reference's test amount")
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(2300))
    final = final_of(res)
    assert final["STATE"] == "0" and final["PARTIAL"] == "1"
    assert final["AMOUNT"] == "1500"
    check_invariants(valor)


@case("valor/A.6/3", title="indeterminate final (STATE -2): TRAN_MODE 90 tells the outcome",
      section="A.6", failure="after a STATE -2 final the terminal cannot say what happened")
def test_indeterminate(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("the indeterminate amount is the reference's test amount")
    pos = valor.pos()
    request = sale(9902)

    def script():  # type: ignore[no-untyped-def]
        res = yield from pos.transact(request)
        assert final_of(res)["STATE"] == "-2"
        final = yield from pos.recover(valor.connector(), res.stan, request)
        return final

    final = valor.run(script)
    assert final is not None and final["STATE"] == "0" and final["AMOUNT"] == "9902"
    check_invariants(valor)


@case("valor/A.6/4", title="a declined sale is STATE -1 with an ERROR_MSG", section="A.6",
      failure="a decline is not reported as STATE -1")
def test_declined(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("the decline amount is the reference acquirer's")
    pos = valor.pos()
    final = final_of(valor.run(exchange, pos, sale(5100)))
    assert final["STATE"] == "-1" and final["ERROR_MSG"]
    check_invariants(valor)


ENTRIES = {  # how the cardholder presents the card -> (card, ENTRY_MODE, ENTRY_TYPE)
    "insert": ("visa-chip-pin", "CHIP", "CHIP"),
    "tap": ("visa-contactless", "CLESS", "TAP"),
    "swipe": ("visa-chip-pin", "SWIPE", "SWIPE"),
}


@pytest.mark.parametrize("framing", ["ws"])
@pytest.mark.parametrize("presented", sorted(ENTRIES))
@case("valor/A.6/5", title="ENTRY_MODE and ENTRY_TYPE say how the card was really read "
      "(inserted, tapped, swiped)", section="A.6",
      failure="the final reports another entry mode than the card's: the POS's receipts "
      "and chargeback evidence say chip for a swiped card")
def test_entry_mode(valor: Any, presented: str) -> None:
    valor.need_reference("the case chooses how the cardholder presents the card")
    card, mode, how = ENTRIES[presented]
    valor.terminal.card.cards = (card,)
    valor.terminal.card.customer = {"presentation": presented}
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        sold = yield from exchange(pos, sale(1250, REQ_TXN_ID=f"EM-{presented}"))
        refund = yield from exchange(pos, {"TRAN_MODE": "1", "TRAN_CODE": "5",
                                           "AMOUNT": "300", "REQ_TXN_ID": f"EMR-{presented}"})
        return sold, refund

    sold, refund = valor.run(script)
    for res in (sold, refund):
        final = final_of(res)
        assert final["STATE"] == "0", final
        assert (final["ENTRY_MODE"], final["ENTRY_TYPE"]) == (mode, how), final
        assert "*" in final["MASKED_PAN"]
    if presented == "swipe":
        assert final_of(sold)["AID"] == "" and final_of(sold)["ISSUER"] == "VISA"
    else:
        assert final_of(sold)["AID"].startswith("A0000000")
    check_invariants(valor)
