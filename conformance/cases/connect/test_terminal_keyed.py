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
