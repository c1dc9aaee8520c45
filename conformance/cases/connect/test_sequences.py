"""paymentsense-connect.md §4.4: the whole ``terminalNotification`` sequence of each kind
of transaction, value by value and in order.

The note gives the chip and PIN sale's order (§4.4, from the REST v2 example; REMOVE_CARD
from §9 A). The other sequences follow from what the terminal does differently: a
decline says DECLINED where an approval says APPROVED, and a host that never answers
PROCESSING_ERROR (the note's enum has no "no answer" value); a tapped card is never
inserted, so nothing asks for it back (no REMOVE_CARD) and a card that verifies nobody
below the CVM limit asks for no PIN; a signature card's checks come between the host's
answer and the approval (§9 B); a cashback sale is a sale; a card that refuses what the
issuer approved says DECLINED_BY_CARD; a customer who walks away from the PIN prompt
ends the sale with PROCESSING_ERROR (no value of the enum names a customer timeout).
A PIN typed again after a wrong one, or a card swiped after its chip failed, is the same
screen: each screen is said once; a stripe this terminal does not take (chip only) is
CARD_NOT_SUPPORTED and a swiped card is not asked back. The card-removal screen says
the outcome the EPoS hears.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .conftest import GBP, SIGN
from .steps import check_invariants, values
from .test_pac import sale

START = ("TRANSACTION_STARTED", "PRESENT_CARD", "PLEASE_WAIT")
ONLINE = ("CONNECTING", "CONNECTION_MADE")
END = ("REMOVE_CARD", "TRANSACTION_FINISHED")
SIGNING = ("SIGNATURE_VERIFICATION", "SIGNATURE_VERIFICATION_IN_PROGRESS",
           "SIGNATURE_VERIFICATION_PROCESS_COMPLETED")


@pytest.mark.parametrize("name, tid, card, how, amount, extra, result, sequence", [
    ("walk-away", GBP, "visa-chip-pin", "insert:pin", 3000, {}, "UNSUCCESSFUL",
     (*START, "PIN_ENTRY", "PROCESSING_ERROR", *END)),
    ("card-declines-after-approval", GBP, "visa-card-decline-2nd-gac", "insert", 3000, {},
     "DECLINED", (*START, "PIN_ENTRY", *ONLINE, "DECLINED_BY_CARD", *END)),
    ("wrong-pin-then-right", GBP, "mc-wrong-pin-then-right", "insert", 3000, {},
     "SUCCESSFUL", (*START, "PIN_ENTRY", *ONLINE, "APPROVED", *END)),
    ("mute-chip-then-swipe", GBP, "mc-mute-chip-fallback", "insert", 3000, {},
     "UNSUCCESSFUL", (*START, "CARD_NOT_SUPPORTED", "TRANSACTION_FINISHED")),
    ("pin-blocked", GBP, "visa-pin-blocked", "insert", 3000, {}, "DECLINED",
     (*START, "DECLINED_BY_CARD", *END)),
    ("issuer-decline", GBP, "mc-issuer-decline", "insert", 3000, {}, "DECLINED",
     (*START, "PIN_ENTRY", *ONLINE, "DECLINED", *END)),
    ("declined-amount", GBP, "visa-chip-pin", "insert", 5100, {}, "DECLINED",
     (*START, "PIN_ENTRY", *ONLINE, "DECLINED", *END)),
    ("no-host", GBP, "visa-chip-pin", "insert", 4567, {}, "UNSUCCESSFUL",
     (*START, "PIN_ENTRY", *ONLINE, "PROCESSING_ERROR", *END)),
    ("tap", GBP, "visa-contactless", "tap", 800, {}, "SUCCESSFUL",
     (*START, *ONLINE, "APPROVED", "TRANSACTION_FINISHED")),
    ("phone", GBP, "visa-phone-cdcvm", "tap", 800, {}, "SUCCESSFUL",
     (*START, *ONLINE, "APPROVED", "TRANSACTION_FINISHED")),
    ("signature", SIGN, "mc-chip-signature", "insert", 2500, {}, "SUCCESSFUL",
     (*START, *ONLINE, *SIGNING, "APPROVED", *END)),
    ("cashback", GBP, "visa-chip-pin", "insert", 1000, {"amountCashback": 500}, "SUCCESSFUL",
     (*START, "PIN_ENTRY", *ONLINE, "APPROVED", *END)),
])
@case("connect/4.4/2", title="the full notification sequence of a sale the customer walks "
      "away from, a PIN typed again, a mute chip then a swipe, a blocked PIN, one the card "
      "declines after the issuer approved, a declined, a no-host, a tapped, a phone, a "
      "signature and a cashback sale, in order, each value once",
      section="4.4", failure="a notification is missing, extra, repeated or out of order "
      "for one kind of sale")
def test_sequences(connect: Any, name: str, tid: str, card: str, how: str, amount: int,
                   extra: dict[str, Any], result: str, sequence: tuple[str, ...]) -> None:
    how, _, walk_away_at = how.partition(":")
    behaviour = {"walk_away_at": walk_away_at} if walk_away_at else {}
    connect.choose(tid, card, presentation=how, **behaviour)
    c = connect.open()
    tx = sale(connect, c, tid=tid, amount=amount, **extra)
    assert tx["transactionResult"] == result, (name, tx["transactionResult"])
    assert tuple(values(c)) == sequence, (name, values(c))
    assert all(t == tid for t, _ in c.notifications)
    if result != "SUCCESSFUL":
        assert tx["authCode"] == "" and isinstance(tx.get("userMessage", ""), str), tx
        if result == "UNSUCCESSFUL" and name != "no-host":  # a failure says what failed
            assert tx.get("userMessage"), tx
        if connect.reference:  # nothing stays booked for a sale that did not succeed
            live = [e for e in connect.server.acquirer.ledger.entries
                    if e.kind == "sale" and e.live]
            assert not live, live
    check_invariants(connect)


@pytest.mark.parametrize("version, key", [("v1", "tid"), ("v0", "tpi")])
@case("connect/4.4/3", title="each terminalNotification is a JSON-RPC notification whose "
      "params are exactly the terminal (tid in v1, tpi in v0) and notificationValue",
      section="4.4", failure="a notification names its terminal under the other version's "
      "key, carries an id, or has members the schema does not allow")
def test_notification_shape(connect: Any, version: str, key: str) -> None:
    c = connect.open(version=version)
    rsp = connect.run(lambda: c.transaction("sale", GBP, 1100))
    assert rsp is not None and rsp.error is None, rsp
    raw = [m for m in c.received if m.get("method") == "terminalNotification"]
    assert raw, "no notification"
    for m in raw:
        assert set(m) == {"jsonrpc", "method", "params"} and m["jsonrpc"] == "2.0", m
        assert set(m["params"]) == {key, "notificationValue"}, m["params"]
        assert m["params"][key] == GBP, m["params"]
    check_invariants(connect)


def removal_screens(world: Any, tid: str) -> list[str]:
    """The messages the terminal sent its pinpad with each RMC (remove card), read from the
    pinpad line of the transcript (ABECS 2.12 RMC: a 32-character message)."""
    import json

    out = []
    for line in world.transcript.jsonl().splitlines():
        rec = json.loads(line)
        label = str(rec.get("label", ""))
        if rec.get("port") == f"{tid}.pinpad" and rec.get("dir") == "rx" and "RMC" in label:
            out.append(label[label.index("RMC") + 6:].strip())
    return out


@case("connect/4.4/4", title="the card-removal screen tells the customer the outcome: "
      "APPROVED after an approval, NOT APPROVED after a decline, a card failure or a walk "
      "away", section="4.4", failure="the customer is shown APPROVED for a sale that was "
      "not, or the reverse")
def test_removal_screen(connect: Any) -> None:
    connect.need_reference("reads the pinpad line in the transcript")
    c = connect.open()
    for card, amount, behaviour, result in [
            ("visa-chip-pin", 1000, {}, "SUCCESSFUL"),
            ("mc-issuer-decline", 1000, {}, "DECLINED"),
            ("visa-chip-pin", 1000, {"walk_away_at": "pin"}, "UNSUCCESSFUL"),
            ("visa-chip-pin", 1200, {}, "SUCCESSFUL")]:
        connect.choose(GBP, card, presentation="insert", **behaviour)
        tx = sale(connect, c, amount=amount)
        assert tx["transactionResult"] == result, (card, tx["transactionResult"])
    screens = removal_screens(connect.world, GBP)
    assert len(screens) == 4, screens
    assert [s.upper() for s in screens] == ["APPROVED", "NOT APPROVED", "NOT APPROVED",
                                            "APPROVED"], screens
    check_invariants(connect)
