"""payworks-p3.md §10: the POS disconnecting mid-transaction."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login


@pytest.mark.parametrize("amount, state, booked", [
    ("5.00", "PROCESSING_WAITING_FOR_CARD_PRESENTATION", False),
    ("22.00", "PROCESSING_WAITING_FOR_PIN", False),
    ("5.00", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL", True),
    # 10.00 asks for a signature after the approval, abortable: the loss aborts it
    ("10.00", "PROCESSING_ACTION_REQUIRED", True),
    ("5.00", "PROCESSING_WAITING_FOR_CARD_REMOVAL", True),
])
@case("p3/10/1", title="a POS lost mid-transaction: abort or auto-reversal, and the device "
      "serves the next client", section="10",
      failure="money stays booked for a transaction the POS never heard the end of, or the "
      "device stays busy")
def test_disconnect_mid_flow(p3: Any, verdict: Any, amount: str, state: str,
                             booked: bool) -> None:
    c = p3.client("pos-lost")

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=amount)
        yield from c.update(tag, state)
        c.end.close()
        yield p3.world.timeout(15)

    p3.run(script)
    fresh = p3.client("pos-next")

    def again():  # type: ignore[no-untyped-def]
        yield from login(fresh, p3)
        return (yield from fresh.final(fresh.execute(p3.resource, amount="5.00")))

    final = p3.run(again)
    assert final["status"] == "OK", "the device did not serve the next client"
    if p3.ledger is None:
        verdict.informational("the target's ledger is not observable; check reversals there")
        return
    entries = p3.ledger.entries
    lost = [e for e in entries if e.identifier != final["executeTransactionResponse"]
            ["transaction"]["identifier"]]
    if booked:
        assert [e.kind for e in lost][-1] == "REVERSAL"
        assert lost[-1].reason == "ERROR_AUTOREVERSAL_LOGOUT"
    else:
        assert lost == []
    # the server's own record of the lost transaction says why it ended (§10)
    (gone,) = [tx for tx in p3.server.transactions.values()
               if tx.identifier != final["executeTransactionResponse"]["transaction"]["identifier"]]
    assert (gone.status, gone.status_code) == ("ERROR", "ERROR_AUTOREVERSAL_LOGOUT")
    check_invariants(p3)
