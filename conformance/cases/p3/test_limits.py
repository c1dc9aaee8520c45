"""payworks-p3.md §7.1, §7.2, §7.7 and §7.8: values and limits of referenced operations
and of charges on a card reader, with the back end's side read from its ledger.

The expected values are written from the document, from the MOCK card's description
(§11: the amount's digits choose the outcome) and from the catalogue card the reader
holds, never read back from the server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of
from .test_card_reader import _needs_reader, _reader

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
NO_READER = "the target lists no card reader besides MOCK devices"
READER = "counterReader"


def _error_type(final: dict[str, Any]) -> str | None:
    if final.get("status") == "ERROR":
        return str(final["error"]["type"])
    return None


@case("p3/7.8/12", title="a partial capture releases the rest: a refund may take back what was "
      "captured and not a cent more", section="7.8",
      failure="after a partial capture the charge can be refunded up to its authorised amount")
def test_partial_capture_limits_refund(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        # 8.00: approved, no cardholder verification (§11)
        ident = tx_of((yield from c.final(c.execute(p3.resource, amount="8.00",
                                                    autoCapture=False))))["identifier"]
        cap = yield from c.final(c.execute(p3.resource, type_="CAPTURE", amount="5.00",
                                           referencedTransactionIdentifier=ident))
        over = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="5.01",
                                            referencedTransactionIdentifier=ident))
        full = yield from c.final(c.execute(p3.resource, type_="REFUND", amount="5.00",
                                            referencedTransactionIdentifier=ident))
        return ident, cap, over, full

    ident, cap, over, full = p3.run(script)
    assert (tx_of(cap)["status"], tx_of(cap)["captured"]) == ("APPROVED", True)
    # the capture's answer carries the charge, now for the captured amount
    assert str(tx_of(cap)["amount"]) == "5.00", "the charge keeps its authorised amount"
    # one past the captured amount is refused as a bad parameter (§7.7)
    assert _error_type(over) == "PARAMETER_INVALID", over
    t = tx_of(full)
    assert (t["type"], str(t["amount"]), t["status"]) == ("REFUND", "5.00", "APPROVED")
    if p3.ledger is not None:
        refunds = [e for e in p3.ledger.entries if e.kind == "REFUND"]
        assert [e.amount for e in refunds] == [500], "the ledger holds other refunds"
    check_invariants(p3)


@case("p3/7.8/13", title="a charge declined online cannot be captured, tip-adjusted or "
      "refunded: each is TRANSACTION_INVALID and nothing is booked", section="7.8",
      failure="a declined charge can still be captured, adjusted or refunded")
def test_declined_charge_not_referenced(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        # hundreds digit 2: declined after online authorisation (§11)
        charge = yield from c.final(c.execute(p3.resource, amount="200.00", autoCapture=False))
        ident = tx_of(charge)["identifier"]
        out = {"charge": charge}
        for kind, amount in (("CAPTURE", "200.00"), ("TIP_ADJUST", "1.00"),
                             ("REFUND", "1.00")):
            out[kind] = yield from c.final(c.execute(
                p3.resource, type_=kind, amount=amount, referencedTransactionIdentifier=ident))
        return out

    out = p3.run(script)
    charge = tx_of(out["charge"])
    assert (charge["status"], charge["statusDetails"]["code"]) == ("DECLINED",
                                                                   "DECLINED_PROCESSOR")
    for kind in ("CAPTURE", "TIP_ADJUST", "REFUND"):
        assert _error_type(out[kind]) == "TRANSACTION_INVALID", (kind, out[kind])
    if p3.ledger is not None:
        booked = [e.kind for e in p3.ledger.entries
                  if e.kind in ("CAPTURE", "TIP_ADJUST", "REFUND")]
        assert booked == [], f"the ledger booked {booked} on a declined charge"
    check_invariants(p3)


@case("p3/7.7/12", title="a standalone refund's authorization code is six digits, as a charge's",
      section="7.7", failure="the refund's clearing details carry another authorization code")
def test_refund_authorization_code(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        finals = []
        for amount in ("3.00", "4.00", "5.00"):
            finals.append((yield from c.final(c.execute(p3.resource, type_="REFUND",
                                                        amount=amount))))
        return finals

    for final in p3.run(script):
        t = tx_of(final)
        assert (t["type"], t["status"]) == ("REFUND", "APPROVED")
        code = t["clearingDetails"]["authorizationCode"]
        assert re.fullmatch(r"\d{6}", code), f"authorization code {code!r}"
    check_invariants(p3)


def _reader_device(p3: Any) -> Any:
    assert p3.server is not None
    return p3.server.devices[READER].reader


@case("p3/7.1/12", title="two chip charges on a card reader: one secure session, the "
      "acquirer's tables loaded once under their ten-character version, and the card's own "
      "scheme and expiry in each answer", section="7.1",
      failure="the reader reopens its session or reloads its tables each charge, or the card "
      "details are not the card's")
def test_reader_session_tables_and_card(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the pinpad behind the reader is read")
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        first = yield from c.final(c.execute(resource, amount="12.00"), timeout=300)
        second = yield from c.final(c.execute(resource, amount="13.00"), timeout=300)
        return first, second

    finals = p3.run(script)
    for final in finals:
        t = tx_of(final)
        assert t["status"] == "APPROVED", t["statusDetails"]
        # the reader's card is the catalogue's visa-chip-pin: VISA, expires 12/2031
        card = t["cardDetails"]
        assert (card["scheme"], card["expiryMonth"], card["expiryYear"]) == ("VISA", 12, 2031)
    pinpad = _reader_device(p3).pinpad
    commands = [cmd for cmd, _status in pinpad.handled]
    assert commands.count("OPN") == 1, f"OPN sent {commands.count('OPN')} times"
    assert commands.count("TLI") == 1, f"tables loaded {commands.count('TLI')} times"
    # the acquirer's table version, its first ten characters (ABECS TLI_TABVER)
    wanted = p3.server.acquirer.terminal_config().table_version[:10]
    held = {pinpad.tables.version(acq) for acq in (pinpad.tables.versions or {0: ""})}
    assert held == {wanted}, held
    # both sales reached the acquirer in the charge's currency, EUR (ISO 4217: 978)
    sales = [e for e in p3.server.acquirer.ledger.entries if e.kind == "sale"]
    assert [(e.amount, e.currency) for e in sales] == [(1200, 978), (1300, 978)]
    check_invariants(p3)


@case("p3/7.2/13", title="a chip card that asks for a signature on a card reader: the POS is "
      "asked, and the charge says SIGNATURE", section="7.2",
      failure="a signature card's charge reports another verification or asks nothing")
def test_reader_signature_card(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the card the reader's customer holds is chosen")
    _reader_device(p3).cards = ("mc-chip-signature",)
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        tag = c.execute(resource, amount="12.00")
        action = yield from c.action(tag)
        yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST",
                                        {"signature": "iVBORw0KGgo=", "verified": True},
                                        resource))
        return action, (yield from c.final(tag, timeout=300))

    action, final = p3.run(script)
    assert action["executeTransactionAction"]["action"] == "CUSTOMER_SIGNATURE"
    t = tx_of(final)
    assert t["status"] == "APPROVED", t["statusDetails"]
    assert t["paymentDetails"]["customerVerification"] == "SIGNATURE"
    assert (t["cardDetails"]["scheme"], t["cardDetails"]["expiryYear"]) == ("MASTERCARD", 2030)
    check_invariants(p3)


@case("p3/7.8/14", title="a capture the processor declines (the pre-authorisation is gone at "
      "the acquirer): the charge stays uncaptured and nothing is booked",
      section="7.8", failure="a capture the acquirer refused is reported approved")
def test_capture_declined_by_processor(p3: Any) -> None:
    _needs_reader(p3)
    p3.need_reference("the acquirer's ledger is changed behind the server")
    c = p3.client()
    state: dict[str, Any] = {}

    def script():  # type: ignore[no-untyped-def]
        resource = yield from _reader(p3, c)
        charge = yield from c.final(c.execute(resource, amount="12.00", autoCapture=False),
                                    timeout=300)
        ident = tx_of(charge)["identifier"]
        # the acquirer let the pre-authorisation go (it expired there): its entry is reversed
        ledger = p3.server.acquirer.ledger
        (pre,) = [e for e in ledger.entries if e.kind == "preauth"]
        state["pre"] = pre.ref
        p3.server.acquirer.reverse(pre.ref, key="expired-at-acquirer")
        cap = yield from c.final(c.execute(resource, type_="CAPTURE", amount="12.00",
                                           referencedTransactionIdentifier=ident))
        again = yield from c.final(c.execute(resource, type_="CAPTURE", amount="12.00",
                                             referencedTransactionIdentifier=ident))
        return charge, cap, again

    charge, cap, again = p3.run(script)
    ident = tx_of(charge)["identifier"]
    assert tx_of(charge)["status"] == "APPROVED" and tx_of(charge)["captured"] is False
    # a capture's answer carries the charge (§7.8): still approved, still not captured
    for answer in (cap, again):
        t = tx_of(answer)
        assert (t["identifier"], t["type"], t["status"]) == (ident, "CHARGE", "APPROVED"), t
        assert t["captured"] is False, "the answer says captured after the acquirer refused"
        assert t["clearingDetails"]["completed"] is False
    # the charge was not captured, so the second capture asked the acquirer again
    captures = [e for e in p3.server.acquirer.ledger.entries if e.kind == "capture"]
    assert len(captures) == 2 and not any(e.approved for e in captures), "a capture was booked"
    assert all(e.parent == state["pre"] for e in captures)
