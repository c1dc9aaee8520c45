"""semi-and-websockets.md §A.4 and §A.6: the numbers a transaction is known by.

The STAN is what a POS recovers a lost outcome with (§A.4 step 7), so the "Payload
Request Received" frame and the final must carry the same one, and each transaction a
new one. TXN_ID is the switch's id of the payment (§A.6, twelve digits): the value is
computed here from the reference acquirer's own ledger, not from the terminal's code.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, exchange, fetch, final_of, sale

#: ISO 8583 field 11: a STAN is n6, 000001 to 999999 (zero is no trace number)
STAN_MAX = 999_999
#: the note's sample approved final: "TXN_ID":"900000000001" for the switch's first payment
TXN_BASE = 900_000_000_000


def _stan_of(res: Any) -> str:
    return str(res.stan)


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.4/21", title="each transaction has its own STAN, a positive number of at "
      "most six digits, the same in the 'Payload Request Received' frame, STAN_ID and "
      "STAN_NO", section="A.4", failure="a POS that recovers by STAN (TRAN_MODE 90) asks "
      "for a STAN the terminal never gave, or gets another transaction's outcome")
def test_stans(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        first = yield from exchange(pos, sale(1250, REQ_TXN_ID="ST-1"))
        second = yield from exchange(pos, sale(1300, REQ_TXN_ID="ST-2"))
        tran_no = final_of(first)["TRAN_NO"]
        void = yield from exchange(pos, fetch("2", AMOUNT="0", TRAN_NO=tran_no,
                                              REQ_TXN_ID="ST-3"))
        return first, second, void

    results = valor.run(script)
    stans = []
    for res in results:
        final = final_of(res)
        assert final["STATE"] == "0", final
        stan = _stan_of(res)
        assert stan.isdigit() and 1 <= int(stan) <= STAN_MAX, f"STAN {stan!r}"
        assert final["STAN_ID"].lstrip("0") == final["STAN_NO"].lstrip("0") \
            == stan.lstrip("0"), (stan, final)
        stans.append(int(stan))
    assert stans == sorted(set(stans)), f"STANs not new for each transaction: {stans}"
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.6/7", title="TXN_ID is twelve digits and names the acquirer's own "
      "transaction: the sale's, the capture's, and the original's in a void and a tip "
      "adjust", section="A.6", failure="TXN_ID names another payment than the one the "
      "acquirer booked: a POS that reconciles by it books the wrong transaction")
def test_txn_id_names_the_acquirers_transaction(valor: Any) -> None:
    valor.need_reference("the acquirer's ledger is the reference's")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        sold = yield from exchange(pos, sale(1250, REQ_TXN_ID="TX-1"))
        tran_no = final_of(sold)["TRAN_NO"]
        tipped = yield from exchange(pos, fetch("20", TIP_AMOUNT="200", TRAN_NO=tran_no,
                                                REQ_TXN_ID="TX-2"))
        pre = yield from exchange(pos, {"TRAN_MODE": "1", "TRAN_CODE": "3", "AMOUNT": "2000",
                                        "REQ_TXN_ID": "TX-3"})
        ticket = yield from exchange(pos, fetch("4", AMOUNT="1800",
                                                TRAN_NO=final_of(pre)["TRAN_NO"],
                                                REQ_TXN_ID="TX-4"))
        void = yield from exchange(pos, fetch("2", AMOUNT="0", TRAN_NO=tran_no,
                                              REQ_TXN_ID="TX-5"))
        return sold, tipped, pre, ticket, void

    sold, tipped, pre, ticket, void = (final_of(r) for r in valor.run(script))
    entries = valor.terminal.acquirer.ledger.entries
    by_kind: dict[str, list[Any]] = {}
    for entry in entries:
        by_kind.setdefault(entry.kind, []).append(entry)

    def expected(entry: Any) -> str:
        return f"{TXN_BASE + int(entry.ref.lstrip('T')):012d}"

    sale_entry, = by_kind["sale"]
    pre_entry, = by_kind["preauth"]
    capture_entry, = by_kind["capture"]
    for final, entry in ((sold, sale_entry), (tipped, sale_entry), (pre, pre_entry),
                         (ticket, capture_entry), (void, sale_entry)):
        assert final["STATE"] == "0", final
        assert len(final["TXN_ID"]) == 12 and final["TXN_ID"].isdigit(), final
        assert final["TXN_ID"] == expected(entry), (final["TRAN_METHOD"], final["TXN_ID"],
                                                    entry.ref)
    check_invariants(valor)
