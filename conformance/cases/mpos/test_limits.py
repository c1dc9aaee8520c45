"""mpos-bridge.md §2.2 and §2.5: variants and limits a POS may send, and the values of
fields the scenario fixes.

The expected values are written here from the note (and from the ABECS sample frames it
quotes), never taken from the bridge's codec or tables.
"""

from __future__ import annotations

from typing import Any

from conformance import case

from .steps import check_all, ready

AMOUNT = 2590


def _process_raw(target: Any, card: str, ctx: str, process: dict[str, Any],
                 presentation: str | None = "insert") -> dict[str, Any]:
    """ready, then a process request with exactly ``process`` as its body, then close."""
    target.present(card)
    if presentation is not None:
        target.cardholder(presentation=presentation)
    c = target.client()

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, ctx)
        p = yield from c.request({"request_type": 4, "context_id": ctx, "process": process})
        yield from c.finish(ctx, success=False, response_code=0, emv_data=None)
        yield from c.close(ctx)
        yield from c.drain_unsolicited(1.0)
        return p

    p = target.run(script)
    check_all(c)
    return p


@case(
    "mpos/2.2/12",
    title="an amount written as a zero-padded twelve-digit string (the ISO 8583 form) is "
    "read as the amount",
    section="2.2",
    failure='"amount": "000000002590" is refused or read as another amount',
)
def test_twelve_digit_amount_string(mpos_target: Any) -> None:
    p = _process_raw(mpos_target, "visa-chip-pin", "iso",
                     {"amount": "000000002590", "magstripe_payment_method": 1})
    assert p["response_type"] == 4, p
    assert p["process"]["status"] == 0
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    # 9F02, Amount Authorised, is six BCD bytes (EMV Book 3 Annex A): 25.90
    assert "9F0206000000002590" in card["card_emv_data"].upper(), "9F02 is not 25.90"
    # visa-chip-pin expires 2031-12-31 (5F24 311231); the card_hash writes MMYY (§3.4)
    assert card["card_expiration_date"] == "1231", "card_expiration_date is not MMYY"


@case(
    "mpos/2.5/34",
    title="a magstripe_payment_method of 0 is credit, as if it were absent",
    section="2.5",
    failure="magstripe_payment_method 0 is refused or taken as debit",
)
def test_magstripe_method_zero_is_credit(mpos_target: Any) -> None:
    p = _process_raw(mpos_target, "magstripe-credit", "m0",
                     {"amount": AMOUNT, "magstripe_payment_method": 0}, presentation=None)
    assert p["response_type"] == 4, p
    assert p["process"]["status"] == 0 and p["process"]["payment_method"] == 1
    assert p["process"]["is_online_pin"] is False
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    assert card["capture_method"] == "magstripe"
    assert card["payment_method"] == "credit_card"
    # the stripe's track 2 says YYMM 3112; the card_hash writes MMYY (§3.4)
    assert card["card_expiration_date"] == "1231", "card_expiration_date is not MMYY"


@case(
    "mpos/2.5/35",
    title="list devices writes each port's name, manufacturer and kind as the shipped "
    "SerialDevice did: \"Serial Device (<port>)\", empty, 0 (Serial)",
    section="2.5",
    failure="a device's name, manufacturer or kind differs from the documented values",
)
def test_device_fields_values(mpos_target: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.list_devices("fields"))

    r = mpos_target.run(script)
    check_all(c)
    assert r["device_list"], "no device listed"
    for d in r["device_list"]:
        # the port as the system names it; ours are named by their last path element
        assert d["name"].startswith("Serial Device (") and d["name"].endswith(")"), d
        assert d["manufacturer"] == "", d
        if mpos_target.reference or "kind" in d:
            # 0.0.27 dropped the key (§2.10); where it is sent it is 0, Serial
            assert d["kind"] == 0, d


@case(
    "mpos/2.5/36",
    title="an Elo debit filter admits every Elo debit application (the prepaid one too); "
    "other filters the first matching application only",
    section="2.5",
    failure="the Elo debit filter takes only the first Elo debit application",
)
def test_elo_debit_filter_takes_all_rows(mpos_target: Any) -> None:
    # the acquirer's tables hold two Elo debit applications, ELO DEBITO and ELO
    # PRE-PAGO; the note (§3.5, PR #48) says an Elo debit filter passes all of them
    p = _process_raw(mpos_target, "elo-prepaid", "elo",
                     {"amount": AMOUNT, "magstripe_payment_method": 1,
                      "applications": [{"brand": "elo", "payment_method": 2}]})
    assert p["response_type"] == 4, f"an Elo prepaid card under an Elo debit filter: {p}"
    assert p["process"]["status"] == 0 and p["process"]["payment_method"] == 2
    card = mpos_target.read_card_hash(p["process"]["card_hash"])
    assert card["payment_method"] == "debit_card"


def _sent_to_pinpad(target: Any, session: Any, name: bytes) -> list[bytes]:
    """The clear data of every command ``name`` the bridge wrote to its first pinpad,
    read from the serial transcript and opened under the session they were sent in."""
    from virtual_devices.abecs.link import Frame, FrameReader

    reader = FrameReader()
    found: list[bytes] = []
    for e in target.world.transcript:
        if e.port != "bridge.serial0" or e.direction != "tx" or not e.hex:
            continue
        for item in reader.feed(bytes.fromhex(e.hex.replace(" ", ""))):
            if isinstance(item, Frame) and item.ok:
                clear = session.open(item.pktdata) if item.pktdata[:1] == b"\x12" \
                    else item.pktdata
                if clear.startswith(name):
                    found.append(clear)
    return found


@case(
    "mpos/2.5/37",
    title="finish sends FNC with libmpos's tag list, the note's sample: 82 9F27 9F26 9F36 "
    "95 8F 9F37",
    section="2.5",
    failure="finish asks the card for other tags after the second GENERATE AC",
)
def test_finish_fnc_tag_list(mpos_target: Any) -> None:
    mpos_target.need_reference("the bridge's serial line to its pinpad is read")
    mpos_target.present("visa-chip-pin")
    mpos_target.cardholder(presentation="insert")
    c = mpos_target.client()
    held: dict[str, Any] = {}

    def script():  # type: ignore[no-untyped-def]
        yield from ready(c, "fnc")
        p = yield from c.process("fnc", AMOUNT)
        txn = mpos_target.merchant(p["process"]["card_hash"], AMOUNT)
        f = yield from c.finish("fnc", success=True, response_code=0,
                                emv_data=txn.get("card_emv_response"))
        # the secure session ends with CLO; keep it to read what was sent under it
        held["session"] = mpos_target.lab.readers[0].pinpad.session
        yield from c.close("fnc")
        return p, f

    p, f = mpos_target.run(script)
    assert p["response_type"] == 4 and f["response_type"] == 5, (p, f)
    fnc = _sent_to_pinpad(mpos_target, held["session"], b"FNC")
    assert len(fnc) == 1, f"expected one FNC, saw {len(fnc)}"
    # mpos-bridge.md §4.9: the tags block is 025 = 011 (eleven bytes) + the tag list
    assert fnc[0].endswith(b"025011829F279F269F36958F9F37"), fnc[0][-40:]



@case(
    "mpos/2.2/13",
    title="the README's snake_case request names list_devices and display_message are "
    "accepted (documented profile), in any case",
    section="2.2",
    failure="a client written from the README's snake_case names is refused",
)
def test_snake_case_document_names(mpos_target: Any, verdict: Any) -> None:
    c = mpos_target.client()

    def script():  # type: ignore[no-untyped-def]
        listed = yield from c.request({"request_type": "list_devices", "context_id": "sn"})
        yield from ready(c, "sn", simple=True)
        shown = yield from c.request({"request_type": "Display_Message", "context_id": "sn",
                                      "display_message": {"message": "OLA"}})
        yield from c.close("sn")
        return listed, shown

    listed, shown = mpos_target.run(script)
    check_all(c)
    if mpos_target.reference and not mpos_target.profile.accept_document_names:
        verdict.informational("the README's names belong to the documented profile")
        return
    assert listed["response_type"] == 1 and listed["device_list"], listed
    assert shown["response_type"] == 6 and shown["context_id"] == "sn", shown
    if mpos_target.reference:
        screens = mpos_target.lab.readers[0].pinpad.display.texts()
        assert any(t.startswith("OLA") for t in screens), screens
