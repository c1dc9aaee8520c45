"""semi-and-websockets.md §A.5: the operations of the request dictionary."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, error_of, exchange, fetch, final_of, sale


def _run(valor: Any, *requests: Any) -> list[Any]:
    """Requests in turn on one connection; a callable builds its request from the
    results so far (a void names the sale's TRAN_NO)."""
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        out: list[Any] = []
        for r in requests:
            if callable(r):
                r = r(out)
            out.append((yield from exchange(pos, r)))
        return out

    return valor.run(script)  # type: ignore[no-any-return]


def _tran_no(results: list[Any], i: int = 0) -> str:
    return str(final_of(results[i])["TRAN_NO"])


@case("valor/A.5/1", title="credit sale without REQ_TXN_ID (local mode)", section="A.5",
      failure="a local-mode sale without REQ_TXN_ID is refused (most public clients send none)")
def test_sale_no_txn_id(valor: Any) -> None:
    (res,) = _run(valor, sale(1250))
    final = final_of(res)
    assert final["STATE"] == "0" and final["TRAN_TYPE"] in ("Credit", "CREDIT")
    check_invariants(valor)


@case("valor/A.5/2", title="void by TRAN_NO with AMOUNT \"0\" voids the original's amount",
      section="A.5", failure="a void with AMOUNT \"0\" is refused or voids another amount")
def test_void_amount_zero(valor: Any) -> None:
    res = _run(valor, sale(1250), lambda out: fetch("2", AMOUNT="0", TRAN_NO=_tran_no(out)))
    final = final_of(res[1])
    assert final["STATE"] == "0" and final["AMOUNT"] == "1250", final
    if valor.reference:
        assert valor.terminal.acquirer.ledger.balance()["settled"] == 0
    check_invariants(valor)


@case("valor/A.5/3", title="pre-auth then ticket captures it", section="A.5",
      failure="a ticket does not capture the pre-auth it names")
def test_preauth_ticket(valor: Any) -> None:
    res = _run(valor, {"TRAN_MODE": "1", "TRAN_CODE": "3", "AMOUNT": "2000"},
               lambda out: fetch("4", AMOUNT="1800", TRAN_NO=_tran_no(out)))
    assert final_of(res[0])["STATE"] == "0"
    final = final_of(res[1])
    assert final["STATE"] == "0" and final["AMOUNT"] == "1800", final
    if valor.reference:
        assert valor.terminal.acquirer.ledger.balance()["settled"] == 1800
    check_invariants(valor)


@case("valor/A.5/4", title="refund with TRAN_MODE 1 reads the card and credits it",
      section="A.5", failure="a card-present refund is not served")
def test_refund(valor: Any) -> None:
    (res,) = _run(valor, {"TRAN_MODE": "1", "TRAN_CODE": "5", "AMOUNT": "500"})
    final = final_of(res)
    assert final["STATE"] == "0" and final["TRAN_METHOD"] == "Refund"
    check_invariants(valor)


@case("valor/A.5/5", title="tip adjust by TRAN_NO raises the total", section="A.5",
      failure="a tip adjust is refused or does not change the total")
def test_tip_adjust(valor: Any) -> None:
    res = _run(valor, sale(1250),
               lambda out: fetch("20", TIP_AMOUNT="300", TRAN_NO=_tran_no(out)))
    final = final_of(res[1])
    assert final["STATE"] == "0" and final["TOTAL_AMOUNT"] == "1550", final
    check_invariants(valor)


@case("valor/A.5/6", title="settlement closes the batch with its totals", section="A.5",
      failure="settlement does not report the batch's count and net amount")
def test_settlement(valor: Any) -> None:
    # a terminal under test may hold an open batch from earlier cases: close it first
    res = _run(valor, fetch("9"), sale(1250), sale(2000),
               {"TRAN_MODE": "1", "TRAN_CODE": "5", "AMOUNT": "500"}, fetch("9"))
    final = final_of(res[4])
    assert final["STATE"] == "0"
    assert final["TOTAL_TRAN_COUNT"] == "3" and final["AMOUNT"] == str(1250 + 2000 - 500), final
    again = _run(valor, fetch("9"))
    error_of(again[0], "No Transaction To Settle")
    check_invariants(valor)


@case("valor/A.5/7", title="reprint of a transaction by TRAN_NO", section="A.5",
      failure="a reprint is refused")
def test_reprint(valor: Any) -> None:
    res = _run(valor, sale(1250), lambda out: fetch("11", TRAN_NO=_tran_no(out)))
    final = final_of(res[1])
    assert final["STATE"] == "0" and final.get("AMOUNT") == "1250", final


@pytest.mark.parametrize("mode,kind", [("2", "Debit"), ("6", "Cash")])
@case("valor/A.5/8", title="debit and cash modes", section="A.5",
      failure="a debit or cash sale is not served, or is reported as another tender")
def test_debit_cash(valor: Any, mode: str, kind: str) -> None:
    (res,) = _run(valor, {"TRAN_MODE": mode, "TRAN_CODE": "1", "AMOUNT": "800"})
    final = final_of(res)
    assert final["STATE"] == "0" and final["TRAN_TYPE"].lower() == kind.lower(), final
    if valor.reference and mode == "6":
        assert not valor.terminal.acquirer.ledger.entries, "cash went to the acquirer"
    check_invariants(valor)


@case("valor/A.5/9", title="TIP_ENTRY prompts for a tip on the terminal", section="A.5",
      failure="TIP_ENTRY \"1\" is ignored: no tip taken on the terminal")
def test_tip_entry(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("a person must enter the tip on a real terminal")
    (res,) = _run(valor, sale(1000, TIP_ENTRY="1"))
    final = final_of(res)
    assert final["STATE"] == "0" and int(final["TIP_AMOUNT"]) > 0
    assert int(final["TOTAL_AMOUNT"]) == 1000 + int(final["TIP_AMOUNT"])
    assert any("tip" in line.lower() for line in valor.terminal.screen)
    check_invariants(valor)


@case("valor/A.5/10", title="SIGNATURE prompts on the terminal; EARLY_RESPONSE answers "
      "before the receipt", section="A.5",
      failure="SIGNATURE or EARLY_RESPONSE is ignored")
def test_signature_early_response(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("timing the prompts needs the reference terminal")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        times = []
        for extra in ({"PAPER_RECEIPT": "2"}, {"PAPER_RECEIPT": "2", "EARLY_RESPONSE": "1"}):
            t0 = valor.world.now
            res = yield from exchange(pos, sale(1250, SIGNATURE="1", **extra))
            assert final_of(res)["STATE"] == "0"
            times.append(valor.world.now - t0)
        return times

    late, early = valor.run(script)
    assert any("sign" in line.lower() for line in valor.terminal.screen)
    # the receipt delay is not waited for with EARLY_RESPONSE (card timings vary a little)
    assert late - early > valor.terminal.t["receipt_print"] * 0.5, (late, early)
    check_invariants(valor)
