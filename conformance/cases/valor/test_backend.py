"""The acquirer host misbehaving behind the terminal (semi-and-websockets.md §A.9): slow,
silent, down, answering twice, answering after the reversal went out. Each catalogue entry
ends as it says, and the ledger invariant holds: what the acquirer keeps is what the POS
was told, with no charge left unreversed."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.faults import (
    check_line_outcome,
    heal_backend,
    line_settle_seconds,
    load_catalogue,
    put_backend_fault,
)
from conformance.invariants import no_charge_left_unreversed
from protocol_servers.valor import dictionary as d

from .steps import check_invariants, exchange, final_of, sale

BACKEND = [s.id for s in load_catalogue().layer("backend")]


@pytest.mark.parametrize("fault_id", BACKEND)
@case("valor/A.9/20", title="the acquirer slow, silent, down, answering twice or after the "
      "reversal: the sale ends as the catalogue says and the books equal what the POS was "
      "told", section="A.9", failure="a back-end fault leaves a charge booked that the POS "
      "was told failed, or the POS hears nothing")
def test_backend_fault(valor: Any, fault_id: str) -> None:
    if valor.terminal is None or valor.world.mode != "virtual":
        pytest.skip("the line to the acquirer is inside the reference (virtual clock: the "
                    "host timeout is 30 simulated seconds)")
    spec = load_catalogue()[fault_id]
    put_backend_fault(valor.world, spec)
    pos = valor.pos()
    final = final_of(valor.run(exchange, pos, sale(1250)))
    valor.settle(line_settle_seconds())
    ledger = valor.terminal.acquirer.ledger
    check_line_outcome(spec, valor.world, ledger.entries)
    if spec.expect == "completes":
        assert final["STATE"] == "0", final
        no_charge_left_unreversed(ledger.entries, 1)
    else:
        assert final["STATE"] == "-1" and final.get("ERROR_MSG") == d.NO_HOST, final
        no_charge_left_unreversed(ledger.entries, 0)
    check_invariants(valor)
    heal_backend(valor.world)  # the line healed: the next customer is served as usual
    assert final_of(valor.run(exchange, pos, sale(700)))["STATE"] == "0"
    check_invariants(valor)
