"""semi-and-websockets.md §B.4 steps 5 and 8: what REQ_INIT_DEVICE's reader options do.

``inputMethod`` opens the reader's interfaces, ``emvType`` QUICK_CHIP ends the card's
part before the host answers, the two removal timeouts bound the "remove card" prompts
(W-NEW328), and the final frame says how the card really entered.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, sale_of

EVERY = "SWIPE_OR_INSERT_OR_TAP"


def sell(gochip: Any, amount: str = "12.50", **device: Any) -> tuple[Any, dict[str, Any]]:
    """Set up with ``device`` fields, sell, let the removal prompts finish."""
    c = gochip.client()

    def script() -> Any:
        yield from c.setup(**device)
        final = yield from c.sale(amount)
        yield from c.wait_for("NEVER", 90.0)  # the removal prompts and their timeouts
        return final

    return c, gochip.run(script)


def told_at(gochip: Any, c: Any, label: str) -> list[float]:
    """Simulated times at which the POS received frames labelled ``label``."""
    return [e.sim for e in gochip.world.transcript.entries
            if e.port == c.name and e.direction == "rx" and e.label == label]


@pytest.mark.parametrize(("entry", "method", "pos_entry"), [
    ("insert", "INSERT", "05"), ("tap", "TAP", "07"), ("swipe", "SWIPE", "90")])
@case("gochip/B.4/21", title="the final frame says how the card entered: "
      "transactionInputMethod INSERT/TAP/SWIPE and posEntryMode 05/07/90",
      failure="the POS is told an entry mode the reader did not see")
def test_entry_mode_reported(gochip: Any, entry: str, method: str, pos_entry: str) -> None:
    gochip.present("visa-chip-pin", entry=entry)
    c, final = sell(gochip, inputMethod=EVERY)
    s = sale_of(final)
    assert s["code"] == "A", s
    assert s["transactionInputMethod"] == method, s
    assert s["posEntryMode"] == pos_entry, s
    if gochip.reference:
        rec = gochip.agent.records.get(s["uniqueRef"])
        entry_seen = gochip.agent.acquirer.ledger.get(rec.ledger_ref)
        assert entry_seen is not None and entry_seen.approved
    check_invariants(gochip)


@case("gochip/B.4/22", title="inputMethod without TAP keeps the antenna off: a customer who "
      "would tap inserts, and the sale is a contact one",
      failure="the reader takes a tap the POS did not allow")
def test_no_tap_antenna_off(gochip: Any) -> None:
    gochip.present("visa-chip-pin", entry="tap")
    c, final = sell(gochip, inputMethod="SWIPE_OR_INSERT")
    s = sale_of(final)
    assert s["code"] == "A" and s["transactionInputMethod"] == "INSERT", s
    if gochip.reference:
        screens = [e.label for e in gochip.world.transcript.entries
                   if e.port.endswith("pinpad-display")]
        assert not any("APROXIME" in t for t in screens), screens  # GCR_CTLSON 0
    check_invariants(gochip)


@pytest.mark.parametrize(("method", "entry"), [("INSERT", "swipe"), ("SWIPE", "insert")])
@case("gochip/B.4/23", title="a card presented through an interface inputMethod left closed "
      "is ignored: the card is asked for again until the read times out, nothing booked",
      failure="the reader accepts a swipe or an insert the POS did not allow")
def test_closed_interface_ignored(gochip: Any, method: str, entry: str) -> None:
    gochip.present("visa-chip-pin", entry=entry)
    c, final = sell(gochip, inputMethod=method)
    s = sale_of(final)
    assert s["code"] == "D" and str(s["authorizedAmount"]) == "0", s
    assert c.messages().count("PRESENT_CARD") >= 2, c.messages()
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.4/24", title="inputMethod SWIPE takes a swipe: approved, entered by SWIPE",
      failure="a swipe-only reader refuses the swipe")
def test_swipe_only(gochip: Any) -> None:
    gochip.present("visa-chip-pin", entry="swipe")
    c, final = sell(gochip, inputMethod="SWIPE")
    s = sale_of(final)
    assert s["code"] == "A" and s["transactionInputMethod"] == "SWIPE", s
    check_invariants(gochip)


@pytest.mark.parametrize(("amount", "code"), [("12.50", "A"), ("101.05", "D")])
@case("gochip/B.4/25", title="QUICK_CHIP: the card is done and asked out (REMOVE_CARD) before "
      "the host is asked; the host's answer alone is the outcome",
      failure="quick chip waits for the host with the card in, or lets the card overrule "
      "the host")
def test_quick_chip(gochip: Any, amount: str, code: str) -> None:
    c, final = sell(gochip, amount, emvType="QUICK_CHIP")
    s = sale_of(final)
    assert s["code"] == code, s
    msgs = c.messages()
    assert msgs.index("REMOVE_CARD") < msgs.index("PROCESSING"), msgs
    assert msgs.count("REMOVE_CARD") == 1, msgs  # the card left: no second prompt
    if gochip.reference:
        labels = [e.label for e in gochip.world.transcript.entries
                  if e.port == "reader0.host" and e.direction == "tx"]
        fnc = next(i for i, t in enumerate(labels) if "FNC" in t)
        # FNC's first field after its length is COMMST: 1, "the host was not reached"
        assert re.search(r"FNC\d{3}1", labels[fnc]), labels[fnc]
        rec = gochip.agent.records.get(s["uniqueRef"])
        entry = gochip.agent.acquirer.ledger.get(rec.ledger_ref)
        assert entry is not None and entry.approved == (code == "A") and not entry.reversed
        if code == "A":
            assert entry.meta["cryptogram_ok"], "the gateway did not check the ARQC"
    check_invariants(gochip)


@case("gochip/B.4/26", title="QUICK_CHIP with the card left in: the first removal prompt "
      "ends after quickChipCardRemovalTimeoutInMillis, the sale goes on, and REMOVE_CARD "
      "comes again after the final frame",
      failure="a card left in stops a quick-chip sale, or the removal timeout is ignored")
def test_quick_chip_card_left_in(gochip: Any) -> None:
    gochip.present("visa-chip-pin", cancel_at="remove")
    c, final = sell(gochip, emvType="QUICK_CHIP", quickChipCardRemovalTimeoutInMillis=2000,
                    postTransactionCardRemovalTimeoutInMillis=4000)
    s = sale_of(final)
    assert s["code"] == "A", s
    msgs = c.messages()
    assert msgs.count("REMOVE_CARD") == 2, msgs
    assert msgs[-1] == "CARD_NOT_REMOVED", msgs
    removes = told_at(gochip, c, "RES_ON_MESSAGE REMOVE_CARD")
    processing = told_at(gochip, c, "RES_ON_MESSAGE PROCESSING")
    not_removed = told_at(gochip, c, "RES_ON_MESSAGE CARD_NOT_REMOVED")
    assert processing[0] - removes[0] == pytest.approx(2.0, abs=0.3), (removes, processing)
    assert not_removed[0] - removes[1] == pytest.approx(4.0, abs=0.3), (removes, not_removed)
    check_invariants(gochip)


@case("gochip/B.4/27", title="postTransactionCardRemovalTimeoutInMillis bounds the "
      "REMOVE_CARD prompt; a card left in is told as CARD_NOT_REMOVED and the agent serves on",
      failure="the reader waits for the card forever, or past the POS's timeout")
def test_post_transaction_removal_timeout(gochip: Any) -> None:
    gochip.present("visa-chip-pin", cancel_at="remove")
    c, final = sell(gochip, postTransactionCardRemovalTimeoutInMillis=1500)
    assert sale_of(final)["code"] == "A"
    removes = told_at(gochip, c, "RES_ON_MESSAGE REMOVE_CARD")
    not_removed = told_at(gochip, c, "RES_ON_MESSAGE CARD_NOT_REMOVED")
    assert len(removes) == 1 and len(not_removed) == 1, c.messages()
    assert not_removed[0] - removes[0] == pytest.approx(1.5, abs=0.3), (removes, not_removed)

    def again() -> Any:  # the card is still in the slot: the next sale reads it at once
        c.mark_seen()
        return (yield from c.sale("3.00"))

    assert sale_of(gochip.run(again))["code"] == "A"
    check_invariants(gochip)
