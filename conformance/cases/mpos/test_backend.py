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
    device_back_seconds,
    heal_backend,
    line_settle_seconds,
    load_catalogue,
    put_backend_fault,
    put_device_fault,
)
from conformance.invariants import ledger_balanced, no_charge_left_unreversed

from .steps import check_all, first_device, transcript_clean

BACKEND = [s.id for s in load_catalogue().layer("backend")]
DEVICE = [s.id for s in load_catalogue().layer("device")]
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
        out["txn"] = txn = {}
        if p["response_type"] == 4:
            txn = yield from mpos_target.merchant_on_line(p["process"]["card_hash"], AMOUNT)
            out["txn"] = txn
        if "status" in txn:
            code = str(txn["acquirer_response_code"])
            before = len(c.unsolicited)
            out["finish"] = yield from c.finish(ctx, success=True, response_code=int(code),
                                                emv_data=txn["card_emv_response"])
            # the pinpad's errors during finish come as "Error: <code>" frames while finish
            # itself answers 5 (DECISIONS.md); either way the card never confirmed the sale
            out["finish_errors"] = [u.get("error") for u in c.unsolicited[before:]]
            if txn["status"] == "authorized" and (out["finish"]["response_type"] != 5
                                                   or out["finish_errors"]):
                # finish could not confirm the sale on the card: the POS takes it back
                out["reversal"] = mpos_target.merchant_reversal(txn["id"])
        else:  # no card_hash, or the API answered 504: finish with success=false (§3.4)
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
            if o["txn"].get("status") == "authorized" and "reversal" not in o}



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


@pytest.mark.parametrize("fault_id", DEVICE)
@case("mpos/2.5/41", title="the pinpad reboots after the approval (at FNC) or loses power "
      "during PIN entry (at GOC): process or finish answers an error, the POS's reversal "
      "leaves nothing booked, and once the pinpad is back a new context is served",
      section="2.5", failure="a pinpad power cycle leaves a request unanswered, reports an "
      "unconfirmed sale as finished, or the reader unusable afterwards")
def test_pinpad_power_fault(mpos_target: Any, fault_id: str) -> None:
    if mpos_target.lab is None or mpos_target.world.mode != "virtual":
        pytest.skip("the pinpads are inside the reference")
    spec = load_catalogue()[fault_id]
    fault = put_device_fault(mpos_target.world, spec)
    out = _sale(mpos_target, "pw")
    assert fault.fired, "the pinpad never lost power"
    host = mpos_target.lab.backend.host
    if spec.params["at"] == "FNC":
        assert out["txn"]["status"] == "authorized", out["txn"]
        # finish is answered (5 as documented, or 9) and the pinpad's failure is reported
        assert out["finish"]["response_type"] == 9 or out["finish_errors"], out["finish"]
        assert out["reversal"]["status"] == "reversed", out.get("reversal")
    else:
        assert out["process"]["response_type"] == 9, out["process"]
        assert out["txn"] == {}, "no card_hash may come out of a dead pinpad"
    assert out["close"]["response_type"] == 8, out["close"]
    no_charge_left_unreversed(host.ledger.entries, 0)
    ledger_balanced(_booked(mpos_target), _told(out))
    mpos_target.settle(device_back_seconds(spec))
    again = _sale(mpos_target, "pw2")
    assert again["txn"]["status"] == "authorized" and again["finish"]["response_type"] == 5
    ledger_balanced(_booked(mpos_target), _told(out, again))
    transcript_clean(mpos_target.world, [PAN])
