"""mpos-bridge.md §2.2 and §2.5: request variants the README allows, and the values of
the answers' fields wherever the scenario fixes them (not only their types).

Expected values are written here from the document, never taken from the bridge's own
tables or codec, so a bug shared by the bridge and a helper cannot stay green.
"""

from __future__ import annotations

import uuid
from typing import Any

from conformance import case
from protocol_servers.mpos.codec import CARD_DECLINED

from .steps import check_all, first_device, ready

AMOUNT = 2590
DECLINED_AT_FNC = "the card declined at FNC after the host approved"


def _tlv(hex_text: str) -> dict[int, bytes]:
    """A flat BER-TLV reader (tags one or two bytes, lengths short or 0x81/0x82 long)."""
    data = bytes.fromhex(hex_text)
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | data[i]
            i += 1
        n = data[i]
        i += 1
        if n & 0x80:
            width = n & 0x7F
            n = int.from_bytes(data[i : i + width], "big")
            i += width
        out[tag] = data[i : i + n]
        i += n
    return out


def _sale(target: Any, card: str, ctx: str, *, success: Any, code: Any = 0) -> dict[str, Any]:
    """A chip sale whose finish writes ``success`` and ``response_code`` as given."""
    target.present(card)
    c = target.client()
    out: dict[str, Any] = {"client": c}

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, ctx)
        out["process"] = p = yield from c.process(ctx, AMOUNT)
        emv = None
        if p["response_type"] == 4:
            txn = target.merchant(p["process"]["card_hash"], AMOUNT)
            out["txn"] = txn
            emv = txn.get("card_emv_response")
        out["finish"] = yield from c.request({
            "request_type": 5, "context_id": ctx,
            "finish": {"success": success, "response_code": code, "emv_data": emv},
        })
        out["close"] = yield from c.close(ctx)
        yield from c.drain_unsolicited(1.0)

    target.run(script)
    check_all(c)
    return out


def _declined_at_fnc(target: Any) -> bool:
    return any(DECLINED_AT_FNC in e.label for e in target.world.transcript)


@case(
    "mpos/2.2/11",
    title="booleans written as the strings \"true\"/\"false\" or as 1/0 are read as booleans",
    section="2.2",
    failure="simple_initialize or finish's success written as a string or an integer is "
    "misread (Newtonsoft reads both)",
)
def test_booleans_as_text_and_integers(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        dev = yield from first_device(c, "bool")
        out = []
        for value in (1, "true", 0, "false"):
            r = yield from c.request({
                "request_type": 2, "context_id": "bool",
                "initialize": {"device_id": dev, "simple_initialize": value},
            })
            handled = ([cmd for cmd, _ in mpos_target.lab.readers[0].pinpad.handled]
                       if mpos_target.reference else [])
            out.append((value, r, handled.count("GTS"), handled.count("TLI")))
            yield from c.close("bool")
        return out

    got = mpos_target.run(script)
    check_all(c)
    for value, r, _, _ in got:
        assert r["response_type"] == 2, (value, r)
    if mpos_target.reference:
        # simple_initialize true skips the table sync (§2.5 type 2), whose first step asks
        # the pinpad its table version (GTS); the tables are loaded (TLI...) only when the
        # pinpad's version differs, so the second full initialize loads nothing
        counts = [(gts, tli) for _, _, gts, tli in got]
        assert counts[0] == (0, 0) and counts[1] == (0, 0), f"1 and 'true' synced: {got}"
        assert counts[2] == (1, 1), f"0 did not sync the tables: {got}"
        assert counts[3] == (2, 1), f"'false' did not sync, or loaded tables the pinpad had: {got}"

    if not mpos_target.scripted:
        return
    # finish's success: "true" is a success (the host approved), 0 is not
    out = _sale(mpos_target, "visa-card-decline-2nd-gac", "bool-fin", success="true")
    assert out["finish"]["response_type"] in (5, 9)
    if out["finish"]["response_type"] == 9:
        assert out["finish"]["error"] == CARD_DECLINED
    if mpos_target.reference:
        assert _declined_at_fnc(mpos_target), "success 'true' was not read as a success"
    fresh = _sale(mpos_target, "visa-card-decline-2nd-gac", "bool-fin0", success=0, code=0)
    assert fresh["finish"]["response_type"] == 5, "success 0 is a failed sale: finish answers 5"
    if mpos_target.reference:
        events = [e for e in mpos_target.world.transcript if DECLINED_AT_FNC in e.label]
        assert len(events) == 1, "success 0 was read as a success"


@case(
    "mpos/2.5/31",
    title="device ids are random GUIDs (version 4), written in the usual 8-4-4-4-12 form",
    section="2.5",
    failure="device ids are not the GUIDs the document describes",
)
def test_device_ids_are_guids(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.list_devices("guid"))

    r = mpos_target.run(script)
    for d in r["device_list"]:
        text = d["id"]
        parsed = uuid.UUID(text)
        assert str(parsed) == text.lower() and len(text) == 36, text
        assert parsed.version == 4, f"{text} is not a random (version 4) GUID"
        assert d["kind"] == 0 and d["manufacturer"] == "", d


@case(
    "mpos/2.5/32",
    title="a filter naming the card's own brand and method lets the sale through; the same "
    "brand with debit only does not take a credit card",
    section="2.5",
    failure="the applications filter drops the matching application or ignores the method",
)
def test_applications_filter_match_and_debit(mpos_target: Any) -> None:
    c = mpos_target.client()
    mpos_target.present("visa-chip-pin")

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "fm")
        ok = yield from c.process("fm", AMOUNT, applications=[
            {"brand": "Visa", "payment_method": 1}])
        yield from c.finish("fm", success=False, response_code=0, emv_data=None)
        mpos_target.present("visa-chip-pin")
        debit = yield from c.process("fm", AMOUNT, applications=[
            {"brand": "visa", "payment_method": "debit"}])
        yield from c.finish("fm", success=False, response_code=0, emv_data=None)
        yield from c.close("fm")
        yield from c.drain_unsolicited(1.0)
        return ok, debit

    ok, debit = mpos_target.run(script)
    # the method may be written as its name ("debit"), as Newtonsoft reads enums (§2.2)
    assert debit["response_type"] == 9 and debit["error"] == "Transaction Errored", debit
    assert debit["process"]["status"] == 2 and debit["process"]["error_code"] == 70, (
        "a Visa credit card taken under a Visa debit-only filter")
    assert debit["process"]["card_hash"] is None
    assert ok["response_type"] == 4, f"the Visa credit filter refused a Visa credit card: {ok}"
    assert ok["process"]["status"] == 0 and ok["process"]["payment_method"] == 1
    assert ok["process"]["card_hash"]
    if mpos_target.reference:
        card = mpos_target.read_card_hash(ok["process"]["card_hash"])
        assert card["payment_method"] == "credit_card"


@case(
    "mpos/2.5/33",
    title="the card_hash's chip data carries the amount, currency, country and transaction "
    "type of the sale",
    section="2.5",
    failure="card_emv_data lacks tags of the authorization list or carries other values",
)
def test_card_emv_data_values(mpos_target: Any) -> None:
    out = _sale(mpos_target, "visa-chip-pin", "emv", success=True)
    p = out["process"]
    assert p["response_type"] == 4, p
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    tags = _tlv(card["card_emv_data"])
    # values fixed by the sale: 25.90 BRL, a purchase in Brazil (EMV Book 3 Annex A)
    assert tags.get(0x9F02) == bytes.fromhex("000000002590"), "9F02 is not the amount"
    assert tags.get(0x5F2A) == bytes.fromhex("0986"), "5F2A is not BRL"
    assert tags.get(0x9F1A) == bytes.fromhex("0076"), "9F1A is not Brazil"
    assert tags.get(0x9C) == b"\x00", "9C is not a purchase"
    for tag in (0x82, 0x95, 0x9A, 0x9F10, 0x9F26, 0x9F27, 0x9F36, 0x9F37):
        assert tag in tags, f"tag {tag:X} of the authorization list is missing"
    assert len(tags[0x9F26]) == 8 and len(tags[0x9F37]) == 4
    assert out["finish"]["response_type"] == 5 and out["close"]["response_type"] == 8
