"""The acquirer host misbehaving behind the merchant API (mpos-bridge.md §2.5 finish, §3.4):
slow, silent, down, answering twice, answering after the reversal went out. The merchant
step between process and finish goes over the API's line to the acquirer, where each
catalogue entry ends as it says; the ledger invariant holds: what the acquirer keeps is
what the POS was finally told, with no charge left unreversed."""

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
from conformance.invariants import ledger_balanced, no_charge_left_unreversed

from .steps import check_all, first_device, transcript_clean

BACKEND = [s.id for s in load_catalogue().layer("backend")]
AMOUNT = 2590
PAN = "4761739001010010"


def _sale(mpos_target: Any, ctx: str) -> dict[str, Any]:
    """initialize, process, the merchant step over the line, finish, close."""
    mpos_target.present("visa-chip-pin")
    c = mpos_target.client()
    out: dict[str, Any] = {"client": c}

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, ctx)
        out["init"] = yield from c.initialize(ctx, dev)
        out["process"] = p = yield from c.process(ctx, AMOUNT)
        assert p["response_type"] == 4, p
        txn = yield from mpos_target.merchant_on_line(p["process"]["card_hash"], AMOUNT)
        out["txn"] = txn
        if "status" in txn:
            code = str(txn["acquirer_response_code"])
            out["finish"] = yield from c.finish(ctx, success=True, response_code=int(code),
                                                emv_data=txn["card_emv_response"])
        else:  # the API answered 504: finish with success=false (mpos-bridge.md §3.4)
            out["finish"] = yield from c.finish(ctx, success=False, response_code=0,
                                                emv_data=None)
        out["close"] = yield from c.close(ctx)
        yield from c.drain_unsolicited(1.0)

    mpos_target.run(script)
    check_all(c)
    return out


def _told(*outs: dict[str, Any]) -> dict[str, int]:
    """What the POS holds as approved: the API authorized it and finish accepted it."""
    return {o["txn"]["id"]: AMOUNT for o in outs
            if o["txn"].get("status") == "authorized" and o["finish"]["response_type"] == 5}


def _booked(mpos_target: Any) -> list[tuple[Any, int]]:
    """The acquirer's bookings by the API's transaction id (reversals negative)."""
    backend = mpos_target.lab.backend
    by_ref = {t.reference: t.id for t in backend.ledger}
    out: list[tuple[Any, int]] = []
    for e in backend.host.ledger.entries:
        if not e.approved:
            continue
        if e.kind == "sale":
            out.append((by_ref.get(e.ref, e.ref), e.amount))
        elif e.kind == "reversal":
            out.append((by_ref.get(e.parent, e.parent), -e.amount))
    return out


@pytest.mark.parametrize("fault_id", BACKEND)
@case("mpos/2.5/40", title="the acquirer slow, silent, down, answering twice or after the "
      "reversal behind the merchant step: the sale ends as the catalogue says and the books "
      "equal what the POS was told", section="2.5", failure="a back-end fault leaves a "
      "charge booked that the POS was told failed, or a request goes unanswered")
def test_backend_fault(mpos_target: Any, fault_id: str) -> None:
    if mpos_target.lab is None or mpos_target.world.mode != "virtual":
        pytest.skip("the merchant API's line to the acquirer is inside the reference "
                    "(virtual clock: the host timeout is 30 simulated seconds)")
    spec = load_catalogue()[fault_id]
    put_backend_fault(mpos_target.world, spec)
    out = _sale(mpos_target, "bk")
    mpos_target.settle(line_settle_seconds())
    host = mpos_target.lab.backend.host
    check_line_outcome(spec, mpos_target.world, host.ledger.entries)
    assert out["finish"]["response_type"] in (5, 9), out["finish"]
    assert out["close"]["response_type"] == 8, out["close"]
    if spec.expect == "completes":
        assert out["txn"]["status"] == "authorized", out["txn"]
        assert out["finish"]["response_type"] == 5, out["finish"]
        no_charge_left_unreversed(host.ledger.entries, 1)
    else:
        assert out["txn"].get("http_status") == 504, out["txn"]
        no_charge_left_unreversed(host.ledger.entries, 0)
    ledger_balanced(_booked(mpos_target), _told(out))
    heal_backend(mpos_target.world)  # the line healed: the next customer is served as usual
    again = _sale(mpos_target, "bk2")
    assert again["txn"]["status"] == "authorized" and again["finish"]["response_type"] == 5
    ledger_balanced(_booked(mpos_target), _told(out, again))
    transcript_clean(mpos_target.world, [PAN])
