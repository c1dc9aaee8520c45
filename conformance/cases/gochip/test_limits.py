"""semi-and-websockets.md §B.5: values of the transaction list that the scenario fixes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, error_of, sale_of, setup_and_sell


@case("gochip/B.5/21", title="the transaction list gives each sale's own status and state: "
      "APPROVED for a paid sale, not approved for one whose POS left before the result, "
      "both OPEN until the batch closes", failure="the list reports a sale that was taken "
      "back as approved, or a paid one as not")
def test_transaction_list_statuses(gochip: Any) -> None:
    gochip.need_reference("a POS leaves mid-sale and the list is read back")
    first = gochip.client("pos-a")

    def leave() -> Any:
        yield from first.setup()
        first.send("REQ_PROCESS_SALE", {"amount": "5.00"})
        yield from first.wait_for("RES_ON_MESSAGE", 30.0)
        first.close()
        yield gochip.world.timeout(90.0)

    gochip.run(leave)
    second = gochip.client("pos-b")
    paid = sale_of(gochip.run(lambda: setup_and_sell(second, "6.00")))
    assert paid["code"] == "A"

    def listed() -> Any:
        got = yield from second.request("REQ_GET_TRANSACTIONS", {"filter": {}},
                                        "RES_ON_TRANSACTION_LIST_RESPONSE")
        return got["data"]["transactions"]

    rows = {str(r["amount"]): r for r in gochip.run(listed)}
    assert set(rows) == {"5", "6"}, rows
    left, ok = rows["5"], rows["6"]
    assert (ok["uniqueRef"], ok["transactionStatus"], ok["transactionState"]) == (
        paid["uniqueRef"], "APPROVED", "OPEN"), ok
    # the POS was gone before the result: whether the agent stopped the sale (DECLINED) or
    # took the approval back (REVERSED), it is not an approved sale
    assert left["transactionStatus"] in ("DECLINED", "REVERSED"), left
    assert left["transactionState"] == "OPEN", left
    check_invariants(gochip)


# EMV tags that carry the card's own data: track 2 equivalent (57), the PAN (5A), the
# cardholder's name (5F20), track 1 discretionary data (9F1F), track 1 (56) and the
# contactless track 2 (9F6B). House rule and PCI: never in clear outside the reader.
CARD_DATA_TAGS = {"57", "5A", "5F20", "9F1F", "56", "9F6B"}
AUTHORIZATION_TAGS = {"5F2A", "82", "95", "9A", "9C", "9F02", "9F10", "9F1A", "9F1E", "9F26",
                      "9F33", "9F36", "9F37", "9F27", "9F34"}


@pytest.mark.parametrize("card, presentation", [("visa-chip-pin", "insert"),
                                                ("visa-contactless", "tap")])
@case("gochip/B.4/28", title="a sale's emvTags carry every tag of the authorisation list "
      "(amount, cryptogram, TVR, IFD serial ...) and none of the card's own data (PAN, "
      "tracks, name), inserted or tapped",
      failure="the sale response hands the POS the PAN or a track inside emvTags")
def test_emv_tags_hold_no_card_data(gochip: Any, card: str, presentation: str) -> None:
    gochip.present(card, entry=presentation)
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "7.00")))
    assert s["code"] == "A", s
    tags = {t["tag"].upper(): t["value"].upper() for t in s["emvTags"]}
    leaked = sorted(CARD_DATA_TAGS & set(tags))
    assert not leaked, f"card data in emvTags: {leaked}"
    # the authorisation tag list of mpos-bridge.md §3.5, which the card reader asks GOC for
    missing = sorted(AUTHORIZATION_TAGS - set(tags))
    assert not missing, f"authorisation tags missing from emvTags: {missing}"
    # 9F02 Amount Authorised, six BCD bytes: $7.00 (EMV Book 3 Annex A)
    assert tags.get("9F02") == "000000000700", tags.get("9F02")
    assert len(tags.get("9F26", "")) == 16 and len(tags.get("95", "")) == 10
    check_invariants(gochip)


@case("gochip/B.4/29", title="an install set up in euros: the settings say EUR, the sale is in "
      "EUR, the card signs 5F2A 0978 and the acquirer books 978", failure="a sale goes to "
      "the card or the gateway in another currency than the install's")
def test_sale_in_the_installs_currency(gochip: Any) -> None:
    from dataclasses import replace

    from protocol_servers.gochip.agent import Agent

    gochip.need_reference("the install's currency is a setting of the reference agent")
    if gochip.kind != "virtual":
        pytest.skip("the euro install is built in the case's own world")
    # the same install, set up in euros from the start (its readers take the currency)
    eur = replace(gochip.agent.settings, currency="EUR", currency_symbol="€")
    gochip.agent = Agent(gochip.world, gochip.config, settings=eur)
    c = gochip.client()
    s = sale_of(gochip.run(lambda: setup_and_sell(c, "7.00")))
    assert (s["code"], s["currency"]) == ("A", "EUR"), s
    tags = {t["tag"].upper(): t["value"].upper() for t in s["emvTags"]}
    # 5F2A Transaction Currency Code, ISO 4217 numeric: 978 is the euro
    assert tags.get("5F2A") == "0978", tags.get("5F2A")
    sales = [e for e in gochip.agent.acquirer.ledger.entries if e.approved]
    assert [(e.amount, e.currency) for e in sales] == [(700, 978)], sales
    check_invariants(gochip)


@case("gochip/B.4/30", title="a refused mode is named in the error: a value of 32 characters "
      "whole, a longer one cut to its first 32", failure="the error does not say which value "
      "was refused, or repeats an arbitrarily long value back to the POS")
def test_refused_value_named_up_to_32(gochip: Any) -> None:
    at_limit, past = "P" * 31 + "Q", "P" * 31 + "QR"

    def script() -> Any:
        out = []
        for mode in (at_limit, past):
            c = gochip.client()
            yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
            out.append((yield from c.request("REQ_WS_INIT", {"mode": mode}, "RES_ON_WS_INIT")))
        return out

    first, second = (error_of(m, "REQ_WS_INIT") for m in gochip.run(script))
    said = [json.dumps(m) for m in (first, second)]
    assert f"'{at_limit}'" in said[0], first
    # one past the limit: the first 32 characters, quoted, and not the 33rd
    assert f"'{at_limit}'" in said[1] and past not in said[1], second
