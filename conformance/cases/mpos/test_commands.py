"""mpos-bridge.md §2.5: each command, its answer, and every catalogue card's outcome."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.mpos.codec import CARD_DECLINED

from .steps import check_all, first_device, ready

AMOUNT = 2590


def _catalogue() -> dict[str, Any]:
    try:
        from virtual_devices.emv.catalogue import catalogue
    except ImportError:
        return {}
    return {n: p for n, p in catalogue().items() if p.expected.get("outcome")}


CARDS = _catalogue()


@case(
    "mpos/2.5/1",
    title="list devices lists each serial port with id, port, name, kind",
    section="2.5",
    failure="devices are missing or lack the fields the example page reads",
)
def test_list_devices(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        a = yield from c.list_devices("l")
        b = yield from c.list_devices("other")
        return a, b

    a, b = mpos_target.run(script)
    check_all(c)
    assert a["device_list"], "no device listed"
    ids = [d["id"] for d in a["device_list"]]
    assert len(set(ids)) == len(ids), "device ids are not unique"
    assert [d["id"] for d in b["device_list"]] == ids, "ids change within a run"
    for d in a["device_list"]:
        assert d["port"] and d["name"]
    if mpos_target.reference:
        assert len(ids) >= len(mpos_target.lab.readers)


@case(
    "mpos/2.5/2",
    title="status reports context state, device and port count",
    section="2.5",
    failure="status does not follow Uninitialized -> Ready -> Closed",
)
def test_status_lifecycle(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        s0 = yield from c.status("life")
        dev = yield from ready(c, "life", simple=True)
        s1 = yield from c.status("life")
        yield from c.close("life")
        s2 = yield from c.status("life")
        listed = yield from c.list_devices("life")
        return s0, dev, s1, s2, listed

    s0, dev, s1, s2, listed = mpos_target.run(script)
    check_all(c)
    assert s0["status"]["code"] == 0 and s0["status"]["connected_device_id"] is None
    assert s1["status"]["code"] == 1 and s1["status"]["connected_device_id"] == dev
    assert s2["status"]["code"] == 0, "close removes the context; a new one starts afresh"
    assert s1["status"]["available_devices"] == len(listed["device_list"])


@case(
    "mpos/2.5/3",
    title="display message answers 6 on an initialized context",
    section="2.5",
    failure="display_message is not carried to the pinpad",
)
def test_display(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "disp", simple=True)
        r = yield from c.display("disp", "Configurado")
        yield from c.close("disp")
        return r

    r = mpos_target.run(script)
    assert r["response_type"] == 6
    if mpos_target.reference:
        shown = [e.label for e in mpos_target.world.transcript if e.port.endswith("display")]
        assert any("Configurado" in s for s in shown), shown


@case(
    "mpos/2.5/4",
    title="close answers 8 even for a context that does not exist",
    section="2.5",
    failure="closing an unknown context is an error",
)
def test_close_unknown(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.close("never-seen"))

    assert mpos_target.run(script)["response_type"] == 8


@case(
    "mpos/2.5/5",
    title="initialize with an unknown device id gets the generic error",
    section="2.5",
    failure="an unknown device id is accepted or hangs",
)
def test_unknown_device(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.initialize("u", "00000000-0000-4000-8000-000000000000"))

    r = mpos_target.run(script)
    assert r["response_type"] == 9
    assert r["error"].startswith("An error has occured with the [Initialize] request")


@case(
    "mpos/2.5/6",
    title="initialize on a silent port times out with the documented text",
    section="2.5",
    failure="a wrong port hangs the bridge instead of answering in time",
)
def test_initialize_timeout(mpos_target: Any) -> None:
    if not mpos_target.reference or not mpos_target.lab.silent:
        pytest.skip("needs the reference's silent port")
    c = mpos_target.client()
    silent = mpos_target.lab.silent[0].id

    def script():  # type: ignore[no-untyped-def]
        t0 = mpos_target.world.now
        r = yield from c.initialize("wrong-port", silent, timeout_ms=1500)
        took = mpos_target.world.now - t0
        st = yield from c.status("wrong-port")
        good = yield from ready(c, "right-port")
        return r, took, st, good

    r, took, st, good = mpos_target.run(script)
    assert r["response_type"] == 9
    assert r["error"] == "Could not initialize device. Perhaps it's not the right port."
    # exact on the virtual clock; on the wall clock the port's own latency adds a little
    slack = 0.0 if mpos_target.world.mode == "virtual" else 0.5
    assert took == pytest.approx(1.5, abs=slack)
    assert st["status"]["code"] == 0 and st["status"]["connected_device_id"] is None
    assert good, "the bridge stops serving after a timeout"


@case(
    "mpos/2.5/7",
    title="missing device_id picks the first free device (documented)",
    section="2.5",
    failure="initialize without device_id fails in the documented profile",
)
def test_missing_device_id(mpos_target: Any, verdict: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        r = yield from c.initialize("nodev", None, simple=True)
        st = yield from c.status("nodev")
        yield from c.close("nodev")
        return r, st

    r, st = mpos_target.run(script)
    if r["response_type"] == 9:
        verdict.non_strict("device_id is required, as in the shipped 0.0.19 code (§2.9)")
        return
    assert r["response_type"] == 2
    assert st["status"]["connected_device_id"]


def _sale(mpos_target: Any, card_name: str, amount: int = AMOUNT) -> dict[str, Any]:
    """list, initialize, process, merchant step, finish, close; returns what happened."""
    mpos_target.present(card_name)
    c = mpos_target.client()
    out: dict[str, Any] = {"client": c, "txn": None}

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "sale")
        out["init"] = yield from c.initialize("sale", dev)
        out["process"] = p = yield from c.process("sale", amount)
        txn = None
        if p["response_type"] == 4:
            txn = mpos_target.merchant(p["process"]["card_hash"], amount)
            out["txn"] = txn
        if txn is not None and "status" in txn:
            code = str(txn["acquirer_response_code"])
            out["finish"] = yield from c.finish(
                "sale",
                success=True,
                response_code=int(code) if code.isdigit() else 9999,
                emv_data=txn["card_emv_response"],
            )
            fin = out["finish"]
            if fin["response_type"] == 9 and fin["error"] == CARD_DECLINED:
                # the card refused what the host approved: the POS undoes the sale
                if txn["status"] == "authorized":
                    out["reversal"] = mpos_target.merchant_reversal(txn["id"])
        else:
            # the merchant API could not be reached or refused: finish with success=false
            out["finish"] = yield from c.finish(
                "sale", success=False, response_code=0, emv_data=None
            )
        out["close"] = yield from c.close("sale")
        yield from c.drain_unsolicited(1.0)

    mpos_target.run(script)
    check_all(c)
    return out


def _settled(mpos_target: Any) -> int | None:
    """What the acquirer settled in this case (reference only; None elsewhere)."""
    if not mpos_target.reference:
        return None
    return int(mpos_target.lab.backend.host.ledger.balance()["settled"])


@case(
    "mpos/2.5/8",
    title="every catalogue card reaches its documented outcome",
    section="2.5",
    failure="a card's payment ends differently from what the card documents",
)
@pytest.mark.parametrize("card_name", sorted(CARDS))
def test_catalogue_card(mpos_target: Any, verdict: Any, card_name: str) -> None:
    profile = CARDS[card_name]
    expected = profile.expected["outcome"]
    out = _sale(mpos_target, card_name)
    p = out["process"]
    assert out["init"]["response_type"] in (2, 3)
    if expected != "declined-by-card":
        assert out["finish"]["response_type"] == 5, "finish must be accepted after any process"
    assert out["close"]["response_type"] == 8
    settled = _settled(mpos_target)
    if expected in ("approved-online", "approved-offline", "declined-online", "declined-by-card"):
        assert p["response_type"] == 4, p
        card = mpos_target.read_card_hash(p["process"]["card_hash"])
        assert card["card_number"] == profile.pan, "the card_hash carries another card"
        assert card["capture_method"] == "emv"
        assert card["card_emv_data"], "chip data missing from the card_hash"
        txn = out["txn"]
        if expected == "declined-online":
            assert txn["status"] == "refused" and settled in (0, None)
        elif expected == "declined-by-card":
            assert txn["status"] == "authorized", "the host should approve this card"
            _declined_by_card(mpos_target, verdict, out, settled)
        else:
            assert txn["status"] == "authorized" and settled in (AMOUNT, None)
    elif expected == "declined-offline":
        assert p["response_type"] == 9 and p["error"] == "Transaction Rejected"
        assert p["process"]["status"] == 1 and p["process"]["card_hash"] is None
        assert settled in (0, None)
    elif expected == "fallback":
        assert p["response_type"] == 9 and p["error"] == "Transaction Errored"
        assert p["process"]["status"] == 2 and p["process"]["error_code"] == 76
        assert {"Error: 76"} <= {u["error"] for u in out["client"].unsolicited}
    else:
        verdict.informational(f"outcome {expected!r} has no mpos-bridge expectation")
    from conformance.invariants import no_full_pan

    no_full_pan(mpos_target.world.transcript, [profile.pan])


def _declined_by_card(mpos_target: Any, verdict: Any, out: dict[str, Any], settled: Any) -> None:
    """The card refused at FNC what the host approved (§2.5 finish, §7 item 4)."""
    fin = out["finish"]
    if not mpos_target.profile.report_card_decline:
        # the document's finish answers 5 whatever the card said (DECISIONS.md), so the
        # sale stays booked at the acquirer; the case says so
        assert fin["response_type"] == 5, (
            f"finish must answer 5 as the document says (the report of a card decline "
            f"is the +card-decline-report switch); got {fin}"
        )
        # finish answering 5 is what the document asks for: a pass. The booked sale is
        # the merchant's to reverse; +card-decline-report makes finish say so (§7 item 4)
        assert settled in (AMOUNT, None), f"settled {settled}: the approved sale stays booked"
        return
    assert fin["response_type"] == 9 and fin["error"] == CARD_DECLINED, (
        f"finish must answer 9 {CARD_DECLINED!r} when the card declines after the host "
        f"approved; got {fin}"
    )
    rev = out.get("reversal") or {}
    assert rev.get("status") == "reversed", f"the merchant could not reverse the sale: {rev}"
    assert settled in (0, None), f"{settled} still settled for a sale the card declined"


@case(
    "mpos/2.5/13",
    title="a card that declines at FNC after the host approved: finish answers 5 (or, "
    "with +card-decline-report, says so and the sale is reversed), the next sale goes through",
    section="2.5",
    failure="finish answers other than the document says, hides the card's decline when "
    "asked to report it, or the context is left unusable",
)
def test_card_declines_after_host_approval(mpos_target: Any, verdict: Any) -> None:
    out = _sale(mpos_target, "visa-card-decline-2nd-gac")
    assert out["process"]["response_type"] == 4, out["process"]
    assert out["txn"]["status"] == "authorized", "the host should approve this card"
    _declined_by_card(mpos_target, verdict, out, _settled(mpos_target))
    declined_finish = out["finish"]
    # the same context serves the next sale as usual (finish was the last operation)
    again = _sale(mpos_target, "visa-chip-pin")
    assert again["process"]["response_type"] == 4, again["process"]
    assert again["finish"]["response_type"] == 5, again["finish"]
    settled = _settled(mpos_target)
    if declined_finish["response_type"] == 9:
        assert settled in (AMOUNT, None), f"settled {settled}: only the second sale may stay"


@case(
    "mpos/2.5/9",
    title="cancel on the pinpad: Canceled with 13, and the Error: 13 frame",
    section="2.5",
    failure="a cancelled payment is reported as an error or not at all",
)
def test_cancel_on_pinpad(mpos_target: Any) -> None:
    mpos_target.cardholder(cancel_at="card")
    try:
        out = _sale(mpos_target, "visa-chip-pin")
    finally:
        if not mpos_target.reference:
            mpos_target.cardholder(cancel_at=None)  # a shared bridge outlives the case
    p = out["process"]
    assert p["response_type"] == 9 and p["error"] == "Transaction Canceled"
    assert p["process"]["status"] == 3 and p["process"]["error_code"] == 13
    assert [u["error"] for u in out["client"].unsolicited] == ["Error: 13"]
    assert out["finish"]["response_type"] == 5


@case(
    "mpos/2.5/10",
    title="the applications filter limits the card to the chosen brands",
    section="2.5",
    failure="the applications filter is ignored",
)
def test_applications_filter(mpos_target: Any) -> None:
    mpos_target.present("visa-chip-pin")
    # inserted: a tap would end in the contactless code for the same refusal (084)
    mpos_target.cardholder(presentation="insert")
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "filter")
        p = yield from c.process(
            "filter", AMOUNT, applications=[{"brand": "mastercard", "payment_method": 1}]
        )
        yield from c.finish("filter", success=False, response_code=0, emv_data=None)
        yield from c.close("filter")
        yield from c.drain_unsolicited(1.0)
        return p

    p = mpos_target.run(script)
    assert p["response_type"] == 9 and p["process"]["status"] == 2
    assert p["process"]["error_code"] == 70, "a Visa card outside a Mastercard-only filter"


@case(
    "mpos/2.5/11",
    title="a stripe-only card pays through the magstripe path",
    section="2.5",
    failure="magstripe cards or magstripe_payment_method are not handled",
)
def test_magstripe(mpos_target: Any) -> None:
    out = _sale(mpos_target, "magstripe-credit")
    p = out["process"]
    assert p["response_type"] == 4
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    assert card["capture_method"] == "magstripe" and "card_emv_data" not in card
    assert p["process"]["payment_method"] == 1
    assert out["txn"]["status"] == "authorized"


@case(
    "mpos/2.5/12",
    title="a debit stripe card asks for an online PIN (GPN) and says so",
    section="2.5",
    failure="magstripe debit goes without PIN or hides is_online_pin",
)
def test_magstripe_debit_pin(mpos_target: Any) -> None:
    mpos_target.present("magstripe-debit-pin")
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "debit")
        p = yield from c.process("debit", AMOUNT, magstripe_payment_method=2)
        yield from c.close("debit")
        return p

    p = mpos_target.run(script)
    assert p["response_type"] == 4
    assert p["process"]["payment_method"] == 2 and p["process"]["is_online_pin"] is True
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    assert card["card_pin_mode"] == "online" and len(card["card_pin"]) == 16
    assert len(card["card_pin_kek"]) == 20
    if mpos_target.reference:
        assert ("GPN", 0) in mpos_target.lab.readers[0].pinpad.handled
    text = mpos_target.world.transcript.jsonl()
    assert card["card_pin"] not in text and card["card_pin"].lower() not in text
