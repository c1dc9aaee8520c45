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
    device_back_seconds,
    heal_backend,
    line_settle_seconds,
    load_catalogue,
    put_backend_fault,
    put_device_fault,
)
from conformance.invariants import no_charge_left_unreversed
from protocol_servers.valor import dictionary as d

from .steps import check_invariants, exchange, final_of, sale

BACKEND = [s.id for s in load_catalogue().layer("backend")]
DEVICE = [s.id for s in load_catalogue().layer("device")]


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


@pytest.mark.parametrize("fault_id", DEVICE)
@case("valor/A.9/21", title="the terminal's pinpad reboots after the approval or loses power "
      "during PIN entry: the POS gets STATE -1, nothing stays booked, and once the pinpad is "
      "back the next sale is served", section="A.9", failure="a pinpad power cycle leaves an "
      "unconfirmed charge booked, the POS unanswered, or the terminal unusable afterwards")
def test_pinpad_power_fault(valor: Any, fault_id: str) -> None:
    if valor.terminal is None or valor.world.mode != "virtual":
        pytest.skip("the terminal's pinpad is inside the reference")
    spec = load_catalogue()[fault_id]
    fault = put_device_fault(valor.world, spec)
    pos = valor.pos()
    final = final_of(valor.run(exchange, pos, sale(1250)))
    assert fault.fired, "the pinpad never lost power"
    assert final["STATE"] == "-1", final
    no_charge_left_unreversed(valor.terminal.acquirer.ledger.entries, 0)
    check_invariants(valor)
    valor.settle(device_back_seconds(spec))
    assert final_of(valor.run(exchange, pos, sale(700)))["STATE"] == "0"
    check_invariants(valor)
