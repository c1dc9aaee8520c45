"""paymentsense-connect.md §4.3: every field of a Pay-At-Counter result, by value.

A result an EPoS files or prints is only as good as each of its fields, so these cases
fix each one the scenario determines: the card's own data (number, sequence, expiry,
application, label) read from the card in the customer's hand, the amounts sent, the
cardholder verification the card and the way it was presented imply, the terminal's
numbering, the clock's format, and what the receipt lines print. The expected values
come from the card catalogue (the card's face and chip), from the request and from the
note, never from the server's own formatting.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants
from .test_pac import sale

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")  # §4.3: YYYY-MM-DDThh:mm:ss
PAC_LINE_TYPES = {"TEXT", "BOX_DECLINE", "BOX_VOID", "CARRIAGE_RETURN",
                  "LINE_SEPARATOR_SINGLE", "LINE_SEPARATOR_DOUBLE", "TICKET_FEED"}
LINE_FORMATS = {"BOLD", "DOUBLE_HEIGHT", "DOUBLE_WIDTH"}
SCHEMES = {"visa": "VISA", "mastercard": "MASTERCARD"}


def card_facts(name: str) -> dict[str, str]:
    """What the card itself says: masked number (§4.3: last four only), sequence number,
    expiry as MM/YY from the printed face, the first application's AID and the name a
    terminal shows for it."""
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.emv.printed import printed

    profile = catalogue()[name]
    face = printed(profile)
    assert face is not None
    app = profile.applications[0]
    # EMV Book 1 §12.2.4: a terminal shows the Application Preferred Name when the card
    # has one (its code table is the terminal's), else the Application Label
    return {"primaryAccountNumber": "*" * 12 + profile.pan[-4:],
            "primaryAccountNumberSequence": profile.psn,
            "dateOfExpiry": f"{face.expiry_mm}/{face.expiry_yy}",
            "applicationId": app.aid.hex().upper(),
            "applicationLabel": app.preferred_name or app.label,
            "cardSchemeName": SCHEMES[profile.brand]}


def pounds(pence: int) -> str:
    return f"£{pence // 100}.{pence % 100:02d}"


def check_lines(tx: dict[str, Any]) -> dict[str, list[str]]:
    """Both copies are lists of §4.3 receipt lines; returns each copy's values."""
    out: dict[str, list[str]] = {}
    assert set(tx["receiptLines"]) == {"MERCHANT", "CUSTOMER"}, tx["receiptLines"].keys()
    for copy, lines in tx["receiptLines"].items():
        for line in lines:
            assert set(line) == {"type", "format", "value"}, line
            assert line["type"] in PAC_LINE_TYPES, line
            assert set(line["format"]) <= LINE_FORMATS, line
            assert isinstance(line["value"], str), line
        out[copy] = [line["value"] for line in lines]
    return out


@case("connect/4.3/10", title="a chip and PIN sale: each §4.3 field has the value the card, "
      "the request and the terminal fix (masked number, sequence, expiry MM/YY, AID, label, "
      "scheme, PIN, ICC_CHIP, amounts, numbering 0001 then 0002, time format), and the "
      "receipt prints amount, card, result and auth code", section="4.3",
      failure="a field of the result carries a wrong value (an expiry the other way round, "
      "a number off by one, a stray cashback), or the receipt misprints the sale")
def test_chip_and_pin_fields(connect: Any) -> None:
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    c = connect.open()
    tx = sale(connect, c, amount=1234)
    want = {"tid": GBP, "transactionType": "SALE", "transactionResult": "SUCCESSFUL",
            "currency": "GBP", "amountBase": 1234, "amountCashback": 0, "amountGratuity": 0,
            "amountTotal": 1234, "cardHolderVerificationMethod": "PIN",
            "paymentMethod": "ICC_CHIP", "transactionNumber": "0001",
            **card_facts("visa-chip-pin")}
    got = {k: tx.get(k) for k in want}
    assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert isinstance(tx["authCode"], str) and tx["authCode"], tx["authCode"]
    assert isinstance(tx["transactionId"], str) and tx["transactionId"]
    assert TIME.match(tx["transactionTime"]), tx["transactionTime"]
    assert "userMessage" not in tx, "a plain approval carries a message to display"
    printed_lines = check_lines(tx)
    for copy, lines in printed_lines.items():
        text = " ".join(lines)
        assert pounds(1234) in text and str(want["primaryAccountNumber"]) in text, (copy, lines)
        assert "SUCCESSFUL" in lines and tx["authCode"] in text, (copy, lines)
        assert not {"DECLINED", "VOID"} & set(lines), (copy, lines)
        assert not [v for v in lines if "SIGN" in v.upper()], \
            f"the {copy} copy of a PIN sale asks for a signature"
    if connect.reference:
        (entry,) = [e for e in connect.server.acquirer.ledger.entries if e.approved]
        assert (entry.kind, entry.amount, entry.currency) == ("sale", 1234, 826)  # ISO 4217
        assert entry.meta.get("auth_code", tx["authCode"]) == tx["authCode"]

    # the terminal's next transaction has the next number and its own id
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    again = sale(connect, c, amount=250)
    assert again["transactionNumber"] == "0002", again["transactionNumber"]
    assert again["transactionId"] != tx["transactionId"]
    assert (again["amountBase"], again["amountTotal"]) == (250, 250)
    assert again["transactionTime"] >= tx["transactionTime"]
    check_invariants(connect)


@case("connect/4.3/11", title="a cashback sale the issuer declines: DECLINED, no cashback "
      "given (amountCashback 0, amountTotal the base), no auth code, and both receipt "
      "copies carry the DECLINED box", section="4.3",
      failure="a declined sale reports cashback handed out, a total with it, an auth code, "
      "or a receipt that reads like a paid one")
def test_declined_cashback_fields(connect: Any) -> None:
    connect.choose(GBP, "mc-issuer-decline", presentation="insert")
    c = connect.open()
    tx = sale(connect, c, amount=2000, amountCashback=500)
    want = {"transactionResult": "DECLINED", "transactionType": "SALE", "amountBase": 2000,
            "amountCashback": 0, "amountGratuity": 0, "amountTotal": 2000, "authCode": "",
            "paymentMethod": "ICC_CHIP", **card_facts("mc-issuer-decline")}
    got = {k: tx.get(k) for k in want}
    assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    for copy, lines in tx["receiptLines"].items():
        boxes = [line for line in lines if line["type"] == "BOX_DECLINE"]
        assert boxes, f"the {copy} copy of a declined sale has no DECLINED box"
        assert not [line for line in lines if line["type"] == "BOX_VOID"], copy
        assert "AUTH CODE" not in " ".join(line["value"] for line in lines), copy
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["settled"] == 0

    # the same request approved: the cashback is given and counted in the total
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    ok = sale(connect, c, amount=2000, amountCashback=500)
    assert (ok["transactionResult"], ok["amountCashback"], ok["amountTotal"]) == \
        ("SUCCESSFUL", 500, 2500), ok
    for copy, lines in ok["receiptLines"].items():
        assert not [line for line in lines if line["type"] == "BOX_DECLINE"], copy
        assert pounds(2500) in " ".join(line["value"] for line in lines), copy
    check_invariants(connect)


@pytest.mark.parametrize("card, cvm", [("visa-contactless", "NONE"),
                                       ("visa-phone-cdcvm", "DEVICE")])
@case("connect/4.3/12", title="a contactless sale under the CVM limit: CONTACTLESS with the "
      "card's own data; a card verifies nobody (NONE), a phone that verified its owner says "
      "DEVICE; no REMOVE_CARD for a tapped card", section="4.3",
      failure="a tap reports a verification that did not happen (or misses the phone's), or "
      "a card field of a tapped card is wrong")
def test_contactless_fields(connect: Any, card: str, cvm: str) -> None:
    connect.choose(GBP, card, presentation="tap")
    c = connect.open()
    tx = sale(connect, c, amount=800)
    want = {"transactionResult": "SUCCESSFUL", "paymentMethod": "CONTACTLESS",
            "cardHolderVerificationMethod": cvm, "amountTotal": 800, **card_facts(card)}
    got = {k: tx.get(k) for k in want}
    assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    seen = [v for _, v in c.notifications]
    assert "REMOVE_CARD" not in seen and "PIN_ENTRY" not in seen, seen
    check_invariants(connect)


def reader_stamps(world: Any, tid: str) -> list[str]:
    """The date and time the terminal gave its card reader with each GCR, as
    ``YYYY-MM-DDThh:mm:ss``, read from the pinpad line of the transcript (ABECS 2.12 GCR:
    ACQIDXREQ 2, APPTYPREQ 2, AMOUNT 12, DATE YYMMDD, TIME HHMMSS, then TABVER)."""
    import json

    out = []
    for line in world.transcript.jsonl().splitlines():
        rec = json.loads(line)
        label = str(rec.get("label", ""))
        if rec.get("port") == f"{tid}.pinpad" and rec.get("dir") == "rx" and "GCR" in label:
            body = label[label.index("GCR") + 6:]  # after the name and the 3-digit length
            date, time = body[16:22], body[22:28]
            out.append(f"20{date[:2]}-{date[2:4]}-{date[4:]}T{time[:2]}:{time[2:4]}:{time[4:]}")
    return out


@case("connect/4.3/13", title="a result's transactionTime is the PDQ's own clock: the date "
      "its card reader was given for that card (GCR), a time no earlier and within the "
      "transaction, and a report's time after it", section="4.3",
      failure="the result is stamped with another clock than the one the card and the "
      "acquirer saw (another day, or earlier than the card was read)")
def test_time_is_the_pdq_clock(connect: Any) -> None:
    connect.need_reference("reads the card reader's line in the transcript")
    connect.choose(GBP, "visa-chip-pin", presentation="insert")
    c = connect.open()
    started = connect.world.now
    tx = sale(connect, c, amount=1500)
    took = connect.world.now - started
    (read,) = reader_stamps(connect.world, GBP)
    assert tx["transactionTime"][:10] == read[:10], (tx["transactionTime"], read)
    assert read <= tx["transactionTime"], (read, tx["transactionTime"])
    from datetime import datetime

    gap = (datetime.fromisoformat(tx["transactionTime"]) - datetime.fromisoformat(read))
    assert gap.total_seconds() <= took + 1, (read, tx["transactionTime"], took)
    rsp = connect.run(lambda: c.call("reportXBalance", {"tid": GBP}))
    assert rsp.result["reportTime"] >= tx["transactionTime"]
    check_invariants(connect)


@case("connect/8/4", title="a EUR terminal's sale: EUR in the result, the amount in cents on "
      "the receipt with the euro sign, and the acquirer asked in euros (ISO 4217 978)",
      section="8", failure="a EUR sale is booked or printed in another currency")
def test_eur_values(connect: Any) -> None:
    from .conftest import EUR

    connect.choose(EUR, "visa-chip-pin", presentation="insert")
    c = connect.open()
    tx = sale(connect, c, tid=EUR, currency="EUR", amount=250)
    assert (tx["currency"], tx["amountBase"], tx["amountTotal"], tx["transactionResult"]) \
        == ("EUR", 250, 250, "SUCCESSFUL"), tx
    for copy, lines in check_lines(tx).items():
        text = " ".join(lines)
        assert "€2.50" in text and "£" not in text, (copy, lines)
    if connect.reference:
        (entry,) = [e for e in connect.server.acquirer.ledger.entries if e.approved]
        assert (entry.amount, entry.currency) == (250, 978), entry
    check_invariants(connect)
