"""payworks-p3.md §5.4 and §7.1 on a card reader behind a serial line: the values a chip
charge's answer and receipt carry, and the terminal data the card itself was given.

The expected values come from the catalogue card the reader's customer holds
(virtual_devices/emv/cards/visa_chip_pin.toml: PAN 4761739001010010, PAN sequence 01,
expiry 311231, application A0000000031010 with the preferred name "Visa Credito", offline
PIN) and from EMV Book 3 (the card's transaction log format 9F4F: 9A 9F21 9F02 ...),
never from the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")

READER = "counterReader"
MASKED = "476173******0010"


def _bcd(raw: bytes) -> str:
    return raw.hex()


def _inserted_charge(p3: Any) -> dict[str, Any]:
    """A 12.00 charge on the reader, the card inserted (a tap would skip the PIN)."""
    _needs_reader(p3)
    p3.need_reference("the reader's customer is told to insert the card, and the card is read")
    p3.server.devices[READER].reader.customer = {"presentation": "insert"}
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        return (yield from c.final(c.execute(resource, amount="12.00"), timeout=300))

    return tx_of(p3.run(script))


@case("p3/5.4/2", title="a chip + PIN charge on a card reader: the receipt's card lines are the "
      "card's own (its application name, AID, PAN sequence, masked PAN, entry mode and "
      "verification), and so are the card details (expiry, issuer country)", section="5.4",
      failure="the receipt names the card by another label, or another application, "
      "sequence number or verification than the card's")
def test_reader_receipt_card_lines(p3: Any) -> None:
    t = _inserted_charge(p3)
    assert t["status"] == "APPROVED", t["statusDetails"]
    for receipt in (t["merchantReceipt"], t["customerReceipt"]):
        lines = {d["key"]: d["value"] for d in receipt["paymentDetails"]}
        # the name the card gives its application (its preferred name 9F12, else its
        # label 50), not the scheme's name
        assert lines == {
            "PAYMENT_DETAILS_SCHEME_OR_LABEL": "Visa Credito",
            "PAYMENT_DETAILS_MASKED_ACCOUNT": MASKED,
            "PAYMENT_DETAILS_SOURCE": "ICC",
            "PAYMENT_DETAILS_EMV_APPLICATION_ID": "A0000000031010",
            "PAYMENT_DETAILS_ACCOUNT_SEQUENCE_NUMBER": "01",
            "PAYMENT_DETAILS_CUSTOMER_VERIFICATION": "PIN",
        }, lines
    pay = t["paymentDetails"]
    assert (pay["scheme"], pay["source"], pay["customerVerification"],
            pay["maskedAccountNumber"]) == ("VISA", "ICC", "PIN", MASKED)
    # expiry 311231 (5F24); the issuer's country 5F28 is the catalogue's default, Brazil
    # (ISO 3166 numeric 076), the card file naming none
    card = t["cardDetails"]
    assert (card["maskedCardNumber"], card["scheme"], card["expiryMonth"], card["expiryYear"],
            card["countryCodeNumeric"]) == (MASKED, "VISA", 12, 2031, "076"), card
    check_invariants(p3)


@case("p3/7.1/13", title="a chip charge on a card reader gives the card the terminal's date and "
      "time: the card's own transaction log holds the receipt's date, a time no later than the "
      "receipt's, and the amount", section="7.1",
      failure="the card signs the sale with another date, time or amount than the terminal's")
def test_reader_card_log_date(p3: Any) -> None:
    t = _inserted_charge(p3)
    assert t["status"] == "APPROVED", t["statusDetails"]
    data = t["merchantReceipt"]["data"]
    on_receipt = datetime.strptime(f"{data['DATE']['value']} {data['TIME']['value']}",
                                   "%d.%m.%Y %H:%M:%S")
    card = p3.server.devices[READER].reader.pinpad.in_hand
    # the newest entry (written at the last GENERATE AC): 9A YYMMDD, 9F21 HHMMSS,
    # 9F02 amount (n12)
    entry = card._apps[0].log[0]
    signed = datetime.strptime(_bcd(entry[0:3]) + _bcd(entry[3:6]), "%y%m%d%H%M%S")
    assert signed.date() == on_receipt.date(), f"card dated {signed}, receipt {on_receipt}"
    assert signed <= on_receipt, f"card signed at {signed}, after the receipt's {on_receipt}"
    assert (on_receipt - signed).total_seconds() < 600, (signed, on_receipt)
    assert _bcd(entry[6:12]) == "000000001200"
    check_invariants(p3)


@case("p3/8.3/3", title="a reader configured with two cards hands them to its customers in "
      "turn: the first, the second, then the first again", section="8.3",
      failure="the reader's customers do not take the configured cards in order")
def test_reader_cards_in_turn(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the cards the reader's customers hold are configured")
    reader = p3.server.devices[READER].reader
    reader.cards = ("visa-chip-pin", "amex-chip-pin")
    reader.customer = {"presentation": "insert"}
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        finals = []
        for amount in ("12.00", "13.00", "14.00"):
            finals.append((yield from c.final(c.execute(resource, amount=amount),
                                              timeout=300)))
        return finals

    seen = []
    for final in p3.run(script):
        t = tx_of(final)
        assert t["status"] == "APPROVED", t["statusDetails"]
        seen.append((t["cardDetails"]["scheme"], t["cardDetails"]["maskedCardNumber"]))
    # the catalogue's cards (visa_chip_pin.toml, amex_chip_pin.toml), in §6's scheme words
    visa, amex = ("VISA", "476173******0010"), ("AMERICAN_EXPRESS", "374245*****1006")
    assert seen == [visa, amex, visa], seen
    check_invariants(p3)
