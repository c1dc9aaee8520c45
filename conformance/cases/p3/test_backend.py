"""The acquirer host misbehaving behind the reader (payworks-p3.md §10): slow, silent, down,
answering twice, answering after the reversal went out. Each catalogue entry ends as it
says, and the ledger invariant holds: what the acquirer keeps is what the POS was told,
with no charge left unreversed."""

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

from .steps import check_invariants, login, tx_of

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
BACKEND = [s.id for s in load_catalogue().layer("backend")]
DEVICE = [s.id for s in load_catalogue().layer("device")]
READER = "devices/counterReader"


@pytest.mark.parametrize("fault_id", BACKEND)
@case("p3/10/20", title="the acquirer slow, silent, down, answering twice or after the "
      "reversal: the charge ends as the catalogue says and the books equal what the POS was "
      "told", section="10", failure="a back-end fault leaves a charge booked that the POS was "
      "told failed, or the POS hears nothing")
def test_backend_fault(p3: Any, transport: str, fault_id: str) -> None:
    if not p3.reference or p3.world.mode != "virtual":
        pytest.skip("the line to the acquirer is inside the reference (virtual clock: the "
                    "host timeout is 30 simulated seconds)")
    spec = load_catalogue()[fault_id]
    put_backend_fault(p3.world, spec)
    c = p3.client()

    def charge(amount: str):  # type: ignore[no-untyped-def]
        def script():  # type: ignore[no-untyped-def]
            yield from login(c, p3)
            return (yield from c.final(c.execute(READER, amount=amount), timeout=600))
        return script

    t = tx_of(p3.run(charge("12.00")))
    p3.settle(line_settle_seconds())
    ledger = p3.server.acquirer.ledger
    check_line_outcome(spec, p3.world, ledger.entries)
    if spec.expect == "completes":
        assert t["status"] == "APPROVED", t
        no_charge_left_unreversed(ledger.entries, 1)
    else:
        assert t["status"] == "ERROR", t
        assert t["statusDetails"]["code"] == "ERROR_SERVER_UNAVAILABLE", t
        no_charge_left_unreversed(ledger.entries, 0)
    check_invariants(p3)
    heal_backend(p3.world)  # the line healed: the next customer is served as usual
    assert tx_of(p3.run(charge("7.00")))["status"] == "APPROVED"
    check_invariants(p3)


@pytest.mark.parametrize("fault_id", DEVICE)
@case("p3/10/21", title="the reader's pinpad reboots after the approval or loses power during "
      "PIN entry: the POS is told an error, the approval is reversed, and once the pinpad is "
      "back the next charge opens it again and completes", section="10",
      failure="a pinpad power cycle leaves an unconfirmed charge booked, a request unanswered, "
      "or the reader unusable afterwards")
def test_pinpad_power_fault(p3: Any, transport: str, fault_id: str) -> None:
    if not p3.reference or p3.world.mode != "virtual":
        pytest.skip("the reader's pinpad is inside the reference")
    spec = load_catalogue()[fault_id]
    fault = put_device_fault(p3.world, spec)
    c = p3.client()

    def charge(amount: str):  # type: ignore[no-untyped-def]
        def script():  # type: ignore[no-untyped-def]
            yield from login(c, p3)
            return (yield from c.final(c.execute(READER, amount=amount), timeout=600))
        return script

    t = tx_of(p3.run(charge("12.00")))
    assert fault.fired, "the pinpad never lost power"
    assert t["status"] in ("ERROR", "DECLINED", "ABORTED"), t
    no_charge_left_unreversed(p3.server.acquirer.ledger.entries, 0)
    check_invariants(p3)
    p3.settle(device_back_seconds(spec))
    assert tx_of(p3.run(charge("7.00")))["status"] == "APPROVED"
    check_invariants(p3)
