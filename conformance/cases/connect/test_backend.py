"""The acquirer host misbehaving behind the terminal (paymentsense-connect.md §7): slow,
silent, down, answering twice, answering after the reversal went out. Each catalogue entry
ends as it says, and the ledger invariant holds: what the acquirer keeps is what the EPoS
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

from .conftest import GBP
from .steps import check_invariants, values
from .test_pac import sale

BACKEND = [s.id for s in load_catalogue().layer("backend")]
DEVICE = [s.id for s in load_catalogue().layer("device")]


@pytest.mark.parametrize("fault_id", BACKEND)
@case("connect/7/20", title="the acquirer slow, silent, down, answering twice or after the "
      "reversal: the sale ends as the catalogue says and the books equal what the EPoS was "
      "told", section="7", failure="a back-end fault leaves a charge booked that the EPoS was "
      "told failed, or the EPoS hears nothing")
def test_backend_fault(connect: Any, fault_id: str) -> None:
    if connect.server is None or connect.world.mode != "virtual":
        pytest.skip("the line to the acquirer is inside the reference (virtual clock: the "
                    "host timeout is 30 simulated seconds)")
    spec = load_catalogue()[fault_id]
    put_backend_fault(connect.world, spec)
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    c = connect.open()
    tx = sale(connect, c)
    connect.settle(line_settle_seconds())
    ledger = connect.server.acquirer.ledger
    check_line_outcome(spec, connect.world, ledger.entries)
    if spec.expect == "completes":
        assert tx["transactionResult"] == "SUCCESSFUL", tx
        no_charge_left_unreversed(ledger.entries, 1)
    else:
        assert tx["transactionResult"] == "UNSUCCESSFUL", tx
        assert "PROCESSING_ERROR" in values(c)
        no_charge_left_unreversed(ledger.entries, 0)
    check_invariants(connect)
    heal_backend(connect.world)  # the line healed: the next customer is served as usual
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    assert sale(connect, c, amount=700)["transactionResult"] == "SUCCESSFUL"
    check_invariants(connect)


@pytest.mark.parametrize("fault_id", DEVICE)
@case("connect/7/21", title="the terminal's pinpad reboots after the approval or loses power "
      "during PIN entry: the result is not SUCCESSFUL, nothing stays booked, and once the "
      "pinpad is back the next sale is served", section="7", failure="a pinpad power cycle "
      "leaves an unconfirmed charge booked, the EPoS unanswered, or the terminal unusable")
def test_pinpad_power_fault(connect: Any, fault_id: str) -> None:
    if connect.server is None or connect.world.mode != "virtual":
        pytest.skip("the terminal's pinpad is inside the reference")
    spec = load_catalogue()[fault_id]
    fault = put_device_fault(connect.world, spec)
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    c = connect.open()
    tx = sale(connect, c)
    assert fault.fired, "the pinpad never lost power"
    assert tx["transactionResult"] != "SUCCESSFUL", tx
    no_charge_left_unreversed(connect.server.acquirer.ledger.entries, 0)
    check_invariants(connect)
    connect.settle(device_back_seconds(spec))
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    assert sale(connect, c, amount=700)["transactionResult"] == "SUCCESSFUL"
    check_invariants(connect)
