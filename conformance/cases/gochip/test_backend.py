"""The acquirer host misbehaving behind the agent (semi-and-websockets.md §B.6): slow,
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

from .steps import check_invariants, sale_of, setup_and_sell

BACKEND = [s.id for s in load_catalogue().layer("backend")]
DEVICE = [s.id for s in load_catalogue().layer("device")]


@pytest.mark.parametrize("fault_id", BACKEND)
@case("gochip/B.6/20", title="the acquirer slow, silent, down, answering twice or after the "
      "reversal: the sale ends as the catalogue says and the books equal what the POS was "
      "told", failure="a back-end fault leaves a charge booked that the POS was told failed, "
      "or the POS hears nothing")
def test_backend_fault(gochip: Any, fault_id: str) -> None:
    if gochip.agent is None or gochip.world.mode != "virtual":
        pytest.skip("the line to the acquirer is inside the reference (virtual clock: the "
                    "host timeout is 30 simulated seconds)")
    spec = load_catalogue()[fault_id]
    put_backend_fault(gochip.world, spec)
    c = gochip.client()
    got = gochip.run(lambda: setup_and_sell(c, "12.50"))
    gochip.settle(line_settle_seconds())
    ledger = gochip.agent.acquirer.ledger
    check_line_outcome(spec, gochip.world, ledger.entries)
    if spec.expect == "completes":
        assert sale_of(got)["code"] == "A", got
        no_charge_left_unreversed(ledger.entries, 1)
    else:
        assert got is not None and got["type"] == "RES_ON_TRANSACTION_COMM_ERROR", got
        assert got["data"]["error"] == "ERROR_TIMEOUT"
        no_charge_left_unreversed(ledger.entries, 0)
    check_invariants(gochip)
    # the line healed, the next customer is served as usual
    heal_backend(gochip.world)
    assert sale_of(gochip.run(lambda: c.sale("7.00")))["code"] == "A"
    check_invariants(gochip)


@pytest.mark.parametrize("fault_id", DEVICE)
@case("gochip/B.6/21", title="the reader's pinpad reboots after the approval or loses power "
      "during PIN entry: the sale is not approved, nothing stays booked, and once the pinpad "
      "is back the next sale is served", failure="a pinpad power cycle leaves an unconfirmed "
      "charge booked, the POS unanswered, or the reader unusable afterwards")
def test_pinpad_power_fault(gochip: Any, fault_id: str) -> None:
    if gochip.agent is None or gochip.world.mode != "virtual":
        pytest.skip("the reader's pinpad is inside the reference")
    spec = load_catalogue()[fault_id]
    fault = put_device_fault(gochip.world, spec)
    c = gochip.client()
    got = gochip.run(lambda: setup_and_sell(c, "12.50"))
    assert fault.fired, "the pinpad never lost power"
    assert got is not None, "the POS heard nothing"
    assert not (got["type"] == "RES_ON_SALE_RESPONSE"
                and got["data"]["saleResponse"]["code"] == "A"), got
    no_charge_left_unreversed(gochip.agent.acquirer.ledger.entries, 0)
    check_invariants(gochip)
    gochip.settle(device_back_seconds(spec))
    assert sale_of(gochip.run(lambda: c.sale("7.00")))["code"] == "A"
    check_invariants(gochip)
