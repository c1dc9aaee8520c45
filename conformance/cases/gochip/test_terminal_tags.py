"""semi-and-websockets.md §B.4 step 9: the EMV tags of an approved chip sale, by value.

The POS keeps ``emvTags`` for its receipt and its records; every value the scenario fixes
is checked against where it really comes from: the acquirer's terminal tables (country,
terminal type, capabilities, application version), the card's own file (AID, PAN
sequence number), the sale (amount, no cashback, a purchase, the agent's date) and the
card's second GENERATE AC (a TC, the ARC the issuer sent, the TSI at the end).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, sale_of, setup_and_sell


def _hex(value: Any) -> str:
    return (value.hex() if isinstance(value, bytes) else str(value)).upper()


@case("gochip/B.4/300", title="an approved chip sale's emvTags hold the values of its "
      "scenario: the tables' country, terminal type, capabilities and application version, "
      "the card's AID and PAN sequence number, the amount with no cashback, a purchase on "
      "the agent's date, and the card's final TC with ARC 00 and its TSI",
      failure="the POS is handed EMV data that does not describe the sale (the first "
      "cryptogram instead of the card's final one, a missing or wrong terminal value)")
def test_emv_tag_values(gochip: Any) -> None:
    from virtual_devices.emv.catalogue import catalogue

    gochip.need_reference("the scenario's tables and card are the reference's")
    if gochip.kind != "virtual":
        pytest.skip("the card and the tables are read in the case's own world")
    gochip.present("visa-chip-pin", entry="insert")
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "7.00")))
    assert s["code"] == "A", s
    tags = {t["tag"].upper(): t["value"].upper() for t in s["emvTags"]}
    profile = catalogue()["visa-chip-pin"]
    card_aid = profile.applications[0].aid.hex().upper()
    aid = next(a for a in gochip.agent.acquirer.terminal_config().aids
               if _hex(a.aid) == card_aid)
    expected = {
        # the acquirer's AID record (virtual_devices/acquirer/tables.toml)
        "9F1A": f"{aid.country:04d}",                     # terminal country code
        "9F35": f"{aid.terminal_type:02d}",               # terminal type
        "9F33": _hex(aid.capabilities),                   # terminal capabilities
        "9F09": _hex(aid.app_versions[0]),                # application version (terminal)
        "9F1E": aid.terminal_id.encode().hex().upper(),   # IFD serial: the terminal id
        # the card (virtual_devices/emv/cards/visa_chip_pin.toml)
        "84": card_aid,
        "5F34": str(profile.psn).zfill(2),
        # the sale: $7.00, no cashback, a purchase (EMV Book 3 Annex A: 9C 00)
        "9F02": "000000000700", "9F03": "000000000000", "9C": "00",
        # the date of the agent's final frame, as YYMMDD
        "9A": s["dateTime"][2:4] + s["dateTime"][5:7] + s["dateTime"][8:10],
        # the second GENERATE AC: CID 40 is a TC (EMV Book 3 §6.5.5.4), the ARC the issuer
        # sent ("00" in ASCII), and the TSI (Annex C.5: data authentication, cardholder
        # verification, card and terminal risk management and issuer authentication done)
        "9F27": "40", "8A": "3030", "9B": "F800",
    }
    got = {k: tags.get(k) for k in expected}
    assert got == expected, {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    check_invariants(gochip)
