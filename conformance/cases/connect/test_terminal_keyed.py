"""paymentsense-connect.md §4.3: a keyed card's expiry is judged on the terminal's date."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants


def _typed(month: str, year: str) -> list[str]:
    """What the cardholder types for visa-chip-pin with the expiry ``month``/``year``: the
    number on the card, the expiry and the security code the issuer computes for that
    expiry (the code depends on it), so only the date can fail."""
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.emv.printed import printed, security_code

    face = printed(catalogue()["visa-chip-pin"])
    assert face is not None
    return [face.pan, month, year, security_code("visa", face.pan, year + month)]


# The reference's scenario runs at the turn of November and December 2026 (the card
# machine's clock starts on 25 November, the transactionTime of Pay-At-Counter on 1
# December); a card is valid through the last day of its expiry month (ISO/IEC 7813,
# EMV Book 3 §10.5), so these expiries are judged the same on either day
@pytest.mark.parametrize("month, year, result", [
    ("12", "26", "SUCCESSFUL"),   # expires at the end of this December
    ("01", "27", "SUCCESSFUL"),
    ("10", "26", "DECLINED"),     # expired in October
    ("11", "25", "DECLINED"),     # expired a year ago
])
@case("connect/4.3/300", title="keyed entry: a card that has not reached the end of its "
      "expiry month is taken, one whose month has passed is declined; the terminal dates "
      "the request with the scenario's day", section="4.3",
      failure="a keyed card is judged against a wrong date: an expired card approved or a "
      "valid one refused")
def test_keyed_expiry_against_the_terminals_date(connect: Any, month: str, year: str,
                                                 result: str) -> None:
    connect.need_reference("the terminal's date is the reference's scenario")
    connect.choose(GBP, "visa-chip-pin", entries=_typed(month, year))
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        rsp = yield from c.transaction("sale", GBP, 1500, "GBP", cardholderNotPresent=True)
        assert rsp is not None and rsp.error is None, rsp
        return rsp.result

    tx = connect.run(script)
    assert tx["transactionResult"] == result, tx
    assert tx["paymentMethod"] == "KEYED" and tx["dateOfExpiry"] == f"{month}/{year}"
    keyed = [e for e in connect.server.acquirer.ledger.entries
             if e.meta.get("interface") == "keyed"]
    assert [(e.amount, e.approved) for e in keyed] == [(1500, result == "SUCCESSFUL")]
    check_invariants(connect)


# A 19-digit Visa number (ISO/IEC 7812 allows up to 19; Luhn-valid, the Visa BIN 4111...)
# made up for the case: the acquirer checks a keyed card's number, expiry and security code
# (the issuer's CVV over number and expiry), so any valid number of a brand it takes works
LONG_PAN = "4111111111111111110"


def _long_card(pan: str = LONG_PAN, month: str = "12", year: str = "30",
               extra_code_digit: str = "") -> list[str]:
    from virtual_devices.emv.printed import security_code

    return [pan, month, year, security_code("visa", LONG_PAN, "3012") + extra_code_digit]


@pytest.mark.parametrize("why, entries, result", [
    # the longest card number a prompt must take: all 19 digits reach the acquirer
    ("19 digits", lambda: _long_card(), "SUCCESSFUL"),
    # a 20th key press: the number prompt stops at 19 digits, the card is still right
    ("20th digit", lambda: _long_card(pan=LONG_PAN + "7"), "SUCCESSFUL"),
    # a third digit at the month and at the year prompts stops at two
    ("month 3 digits", lambda: _long_card(month="125"), "SUCCESSFUL"),
    ("year 3 digits", lambda: _long_card(year="305"), "SUCCESSFUL"),
    # the code prompt takes four digits (the four-digit codes of some brands): a fourth
    # digit typed after the right three reaches the acquirer, which refuses it
    ("code 4 digits", lambda: _long_card(extra_code_digit="9"), "DECLINED"),
])
@case("connect/4.3/301", title="keyed entry at the prompts' limits: a 19-digit card number "
      "is taken whole and a 20th digit is not; month and year stop at two digits; the "
      "security code takes a fourth digit", section="4.3",
      failure="the keypad cuts a valid card number short, or passes on more digits than "
      "a card number, an expiry or a security code can have")
def test_keyed_prompt_lengths(connect: Any, why: str, entries: Any, result: str) -> None:
    connect.need_reference("the card typed is the scenario's")
    connect.choose(GBP, "visa-chip-pin", entries=entries())
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        rsp = yield from c.transaction("sale", GBP, 1600, "GBP", cardholderNotPresent=True)
        assert rsp is not None and rsp.error is None, rsp
        return rsp.result

    tx = connect.run(script)
    assert tx["transactionResult"] == result, (why, tx)
    assert tx["paymentMethod"] == "KEYED" and tx["dateOfExpiry"] == "12/30", why
    assert tx["primaryAccountNumber"].endswith(LONG_PAN[-4:]), tx["primaryAccountNumber"]
    keyed = [e for e in connect.server.acquirer.ledger.entries
             if e.meta.get("interface") == "keyed"]
    assert [(e.amount, e.approved) for e in keyed] == [(1600, result == "SUCCESSFUL")]
    # the acquirer got all 19 digits (its masked number keeps the first six, the last four)
    assert keyed[0].pan_masked == LONG_PAN[:6] + "*" * 9 + LONG_PAN[-4:], keyed[0].pan_masked
    check_invariants(connect)
