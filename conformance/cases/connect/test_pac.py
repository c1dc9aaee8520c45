"""paymentsense-connect.md §4: Pay-At-Counter methods, notifications, cancel, signature,
reports."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.notifications import CHIP_AND_PIN, KEYED_CNP

from .conftest import EUR, GBP, SIGN
from .steps import check_invariants, final, no_typed_code, values


def sale(connect: Any, c: Any, tid: str = GBP, amount: int = 1234, method: str = "sale",
         currency: str = "GBP", **extra: Any) -> dict[str, Any]:
    def script():  # type: ignore[no-untyped-def]
        rsp = yield from c.transaction(method, tid, amount, currency, **extra)
        assert rsp is not None and rsp.error is None, f"{method} answered {rsp}"
        return rsp.result

    return connect.run(script)  # type: ignore[no-any-return]


@case("connect/4.1/1", title="connectedTerminals answers a bare array of {tid, status, "
      "currency}", section="4.1", failure="the terminal list is wrapped or malformed")
def test_connected_terminals(connect: Any) -> None:
    c = connect.open()
    rsp = connect.run(lambda: c.call("connectedTerminals"))
    assert isinstance(rsp.result, list) and rsp.result
    for t in rsp.result:
        assert set(t) == {"tid", "status", "currency"}
        assert t["status"] in ("AVAILABLE", "BUSY") and t["currency"] in ("GBP", "EUR")


@case("connect/4.1/2", title="the wrapped {\"terminals\": [...]} form is an option",
      section="4.1", failure="the option does not wrap the list")
def test_connected_terminals_wrapped(connect: Any) -> None:
    connect.need_reference("the wrapped form is a server option")
    from dataclasses import replace

    connect.server.config = replace(connect.server.config, wrapped_terminals=True)
    c = connect.open()
    rsp = connect.run(lambda: c.call("connectedTerminals"))
    assert isinstance(rsp.result, dict) and isinstance(rsp.result["terminals"], list)


@case("connect/4.2/1", title="terminalDetails of one TID", section="4.2",
      failure="the details differ from the connectedTerminals entry")
def test_terminal_details(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        listed = yield from c.call("connectedTerminals")
        one = yield from c.call("terminalDetails", {"tid": GBP})
        return listed.result, one.result

    listed, one = connect.run(script)
    assert one in listed and one["tid"] == GBP


@case("connect/4.3/1", title="a chip and PIN sale: SUCCESSFUL with the §4.3 fields, "
      "masked PAN, receipt lines with value", section="4.3",
      failure="the sale result lacks fields, shows the PAN or has bare receipt lines")
def test_sale(connect: Any) -> None:
    connect.choose(GBP, "visa-chip-pin", presentation="insert")  # chip and PIN
    c = connect.open()
    tx = sale(connect, c)
    assert tx["transactionResult"] == "SUCCESSFUL" and tx["transactionType"] == "SALE"
    for k in ("amountBase", "amountCashback", "amountGratuity", "amountTotal", "authCode",
              "cardSchemeName", "applicationId", "cardHolderVerificationMethod",
              "paymentMethod", "primaryAccountNumber", "transactionId", "transactionTime"):
        assert k in tx, k
    assert tx["amountTotal"] == tx["amountBase"] == 1234
    assert tx["primaryAccountNumber"].startswith("************")
    assert tx["cardHolderVerificationMethod"] == "PIN" and tx["paymentMethod"] == "ICC_CHIP"
    for copy in ("MERCHANT", "CUSTOMER"):
        assert all("value" in line for line in tx["receiptLines"][copy])
    check_invariants(connect)


@case("connect/4.3/2", title="a cashback sale carries amountCashback and the total",
      section="4.3", failure="cashback is lost or the total is wrong")
def test_cashback(connect: Any) -> None:
    c = connect.open()
    tx = sale(connect, c, amount=2000, amountCashback=1000)
    assert tx["amountCashback"] == 1000 and tx["amountTotal"] == 3000
    check_invariants(connect)


@case("connect/4.3/3", title="a refund is a credit to the card presented", section="4.3",
      failure="the refund is not booked or not reported")
def test_refund(connect: Any) -> None:
    c = connect.open()
    tx = sale(connect, c, method="refund", amount=700)
    assert tx["transactionType"] == "REFUND" and tx["transactionResult"] == "SUCCESSFUL"
    if connect.reference:
        refunds = [e for e in connect.server.acquirer.ledger.entries if e.kind == "refund"]
        assert [e.amount for e in refunds] == [700]
    check_invariants(connect)


@case("connect/4.3/4", title="preAuth then completion with its authCode on the same card",
      section="4.3", failure="the completion does not capture the pre-authorisation")
def test_preauth_completion(connect: Any) -> None:
    c = connect.open()
    pre = sale(connect, c, method="preAuth", amount=5000)
    assert pre["transactionType"] == "PRE_AUTH" and pre["transactionResult"] == "SUCCESSFUL"
    done = sale(connect, c, method="completion", amount=4500, authCode=pre["authCode"])
    assert done["transactionType"] == "COMPLETION"
    assert done["transactionResult"] == "SUCCESSFUL"
    if connect.reference:
        ledger = connect.server.acquirer.ledger
        assert ledger.balance()["settled"] == 4500


@case("connect/4.3/5", title="accountVerification checks the card for zero", section="4.3",
      failure="account verification moves money or fails")
def test_account_verification(connect: Any) -> None:
    c = connect.open()
    tx = sale(connect, c, method="accountVerification", amount=0)
    assert tx["transactionType"] == "ACCOUNT_VERIFICATION"
    assert tx["transactionResult"] == "SUCCESSFUL"
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["settled"] == 0


@case("connect/4.3/6", title="a test amount the issuer declines (51.00) is DECLINED",
      section="4.3", failure="a declined sale is reported otherwise")
def test_declined_amount(connect: Any) -> None:
    connect.need_reference("the acquirer's test amounts")
    c = connect.open()
    tx = sale(connect, c, amount=5100)
    assert tx["transactionResult"] == "DECLINED" and tx["authCode"] == ""
    assert "DECLINED" in values(c)
    check_invariants(connect)


@case("connect/4.3/7", title="cardholderNotPresent: the card is keyed on the PDQ (number, "
      "expiry, security code) and authorised without a chip; KEYED, NONE, masked PAN, no "
      "PRESENT_CARD or REMOVE_CARD; a keyed refund too", section="4.3",
      failure="a keyed sale or refund fails, shows the PAN, reports a chip or a PIN, or "
      "asks for a card to be presented")
def test_cnp_keyed(connect: Any) -> None:
    connect.choose(GBP, "visa-chip-pin", entries=[])
    c = connect.open()
    tx = sale(connect, c, amount=2500, cardholderNotPresent=True)
    assert tx["transactionResult"] == "SUCCESSFUL" and tx["authCode"]
    assert tx["paymentMethod"] == "KEYED" and tx["cardHolderVerificationMethod"] == "NONE"
    assert tx["primaryAccountNumber"] == "************0010"
    assert tx["dateOfExpiry"] == "12/31" and tx["cardSchemeName"] == "VISA"
    assert tx["applicationId"] == "" and tx["primaryAccountNumberSequence"] == ""
    assert tuple(values(c)) == KEYED_CNP
    assert any(line["value"] == "KEYED" for line in tx["receiptLines"]["CUSTOMER"])
    refund = sale(connect, c, amount=700, method="refund", cardholderNotPresent=True)
    assert refund["transactionResult"] == "SUCCESSFUL" and refund["paymentMethod"] == "KEYED"
    if connect.reference:
        keyed = [e for e in connect.server.acquirer.ledger.entries
                 if e.meta.get("interface") == "keyed"]
        assert [(e.kind, e.amount, e.approved) for e in keyed] == [("sale", 2500, True),
                                                                   ("refund", 700, True)]
        no_typed_code(connect, "visa-chip-pin")
    check_invariants(connect)


def typed(card: str, why: str) -> tuple[str, list[str]]:
    """The card held and what is typed at the keypad's prompts for ``why`` (built here,
    not in the parameters, so no card number is written into the case's reports)."""
    from virtual_devices.emv.catalogue import catalogue
    from virtual_devices.emv.printed import printed

    face = printed(catalogue()[card])
    assert face is not None
    if why == "mistyped-number":  # the last digit off by one: the Luhn check fails
        return card, [face.pan[:-1] + str((int(face.pan[-1]) + 1) % 10)]
    if why == "wrong-code":
        code = str((int(face.security_code) + 1) % 1000).zfill(3)
        return card, [face.pan, face.expiry_mm, face.expiry_yy, code]
    return card, []


@pytest.mark.parametrize("card,why", [("visa-chip-pin", "mistyped-number"),
                                      ("visa-expired", "expired"),
                                      ("visa-chip-pin", "wrong-code")])
@case("connect/4.3/8", title="a keyed card the acquirer refuses (mistyped number, expired, "
      "wrong security code) is DECLINED with nothing booked", section="4.3",
      failure="a keyed card that fails its checks is approved")
def test_cnp_keyed_declined(connect: Any, card: str, why: str) -> None:
    card, entries = typed(card, why)
    connect.choose(GBP, card, entries=entries)
    c = connect.open()
    tx = sale(connect, c, amount=1800, cardholderNotPresent=True)
    assert tx["transactionResult"] == "DECLINED", why
    assert tx["authCode"] == "" and tx["paymentMethod"] == "KEYED"
    assert "DECLINED" in values(c) and "REMOVE_CARD" not in values(c)
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["settled"] == 0
    # a number typed at the keypad is card data even when it is no valid card number
    # (a mistyped one fails the Luhn check the generic scan relies on)
    from conformance.invariants import no_full_pan

    no_full_pan(connect.world.transcript, known_pans=[e for e in entries if len(e) >= 12])
    check_invariants(connect)


@case("connect/4.3/9", title="keyed entry: cancel while the card is typed; "
      "cardholderNotPresent only on sales and refunds; the operator keys a pre-auth and an "
      "account verification",
      section="4.3", failure="a cancel during key entry does not cancel, keyed entry is "
      "taken where §4.3 does not allow it, or an operator-keyed pre-auth or check fails")
def test_cnp_keyed_cancel_and_scope(connect: Any) -> None:
    connect.choose(GBP, "visa-chip-pin", cancel_at="card")
    c = connect.open()
    tx = sale(connect, c, amount=900, cardholderNotPresent=True)
    assert tx["transactionResult"] == "CANCELLED"

    def refusals():  # type: ignore[no-untyped-def]
        out = []
        for m in ("preAuth", "accountVerification"):
            out.append((yield from c.call(m, {"tid": GBP, "currency": "GBP", "amount": 100,
                                              "cardholderNotPresent": True})))
        return out

    for rsp in connect.run(refusals):
        assert rsp.error is not None and rsp.error.code == -32602
    connect.choose(GBP, "visa-chip-pin", entry="keyed")
    c.notifications.clear()
    pre = sale(connect, c, amount=4000, method="preAuth")
    assert pre["transactionResult"] == "SUCCESSFUL" and pre["paymentMethod"] == "KEYED"
    assert values(c)[:3] == ["TRANSACTION_STARTED", "PRESENT_CARD", "PLEASE_WAIT"]
    check = sale(connect, c, amount=0, method="accountVerification")
    assert check["transactionResult"] == "SUCCESSFUL" and check["paymentMethod"] == "KEYED"
    assert check["transactionType"] == "ACCOUNT_VERIFICATION"
    check_invariants(connect)


@case("connect/4.4/1", title="chip and PIN notifications in the order of §4.4, all before "
      "the result", section="4.4", failure="notifications are missing, out of order or late")
def test_notification_order(connect: Any) -> None:
    connect.choose(GBP, "visa-chip-pin", presentation="insert")  # chip and PIN
    c = connect.open()
    sale(connect, c)
    assert tuple(values(c)) == CHIP_AND_PIN
    assert all(tid == GBP for tid, _ in c.notifications)
    check_invariants(connect)


@case("connect/4.5/1", title="duplicate returns the last transaction of the terminal",
      section="4.5", failure="duplicate differs from the transaction it repeats")
def test_duplicate(connect: Any) -> None:
    c = connect.open()
    tx = sale(connect, c)
    dup = connect.run(lambda: c.call("duplicate", {"tid": GBP}))
    assert dup.error is None
    assert dup.result["transactionId"] == tx["transactionId"]
    assert dup.result["amountTotal"] == tx["amountTotal"]


@pytest.mark.parametrize("at", ["card", "pin"])
@case("connect/4.6/1", title="cancel while the card is awaited or the PIN typed: cancelling, "
      "then CANCELLED", section="4.6", failure="a cancel before authorisation does not stop it")
def test_cancel(connect: Any, at: str) -> None:
    # the cancel moment is chosen through the cardholder
    connect.choose(GBP, "visa-chip-pin", think_s=(20.0, 20.0) if at == "card" else (2.0, 2.0),
                   typing_s=(5.0, 5.0), presentation="insert")  # inserted: a PIN is asked
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        rid = c.request("sale", {"tid": GBP, "currency": "GBP", "amount": 900})
        want = "PRESENT_CARD" if at == "card" else "PIN_ENTRY"
        while want not in values(c):
            yield connect.world.timeout(0.1)
        answer = yield from c.call("cancelTransaction", {"tid": GBP})
        tx = yield from final(c, rid)
        c.remember(tx)
        return answer.result, tx

    answer, tx = connect.run(script)
    assert answer == {"cancelling": True}
    assert tx["transactionResult"] == "CANCELLED"
    assert tx.get("userMessage"), "a cancelled sale does not say so to display"
    v = values(c)
    assert v.index("ATTEMPTING_CANCEL") < v.index("CANCELLING") < v.index("TRANSACTION_FINISHED")
    check_invariants(connect)


@case("connect/4.6/2", title="cancel after authorisation began: UNABLE_TO_CANCEL and the "
      "sale completes", section="4.6", failure="a late cancel loses or undoes the payment")
def test_cancel_too_late(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        rid = c.request("sale", {"tid": GBP, "currency": "GBP", "amount": 901})
        while "CONNECTING" not in values(c):
            yield connect.world.timeout(0.05)
        yield from c.call("cancelTransaction", {"tid": GBP})
        tx = yield from final(c, rid)
        c.remember(tx)
        return tx

    tx = connect.run(script)
    assert "UNABLE_TO_CANCEL" in values(c)
    assert tx["transactionResult"] == "SUCCESSFUL"
    check_invariants(connect)


@pytest.mark.parametrize("policy, result", [("accept", "SUCCESSFUL"), ("decline", "VOID"),
                                            ("ignore", "SUCCESSFUL")])
@case("connect/4.7/1", title="signature: accepted, declined (reversed, VOID), or no answer "
      "(auto-accepted after the timeout)", section="4.7",
      failure="the signature answer is not honoured or the books disagree")
def test_signature(connect: Any, policy: str, result: str) -> None:
    connect.choose(SIGN, "mc-chip-signature")
    c = connect.open(signature=policy)
    tx = sale(connect, c, tid=SIGN, amount=2500)
    asks = [r for r in c.server_requests if r["method"] == "signatureVerificationRequest"]
    assert len(asks) == 1
    p = asks[0]["params"]
    assert isinstance(asks[0]["id"], int) and p["tid"] == SIGN and p["timeout"] == 80
    assert "MERCHANT" in p["receiptLines"] and p["primaryAccountNumber"].startswith("****")
    assert tx["transactionResult"] == result
    v = values(c)
    assert v.index("SIGNATURE_VERIFICATION") < v.index("SIGNATURE_VERIFICATION_IN_PROGRESS")
    if policy == "ignore":
        assert "SIGNATURE_VERIFICATION_TIMEOUT" in v and tx.get("userMessage")
    else:
        assert "SIGNATURE_VERIFICATION_PROCESS_COMPLETED" in v
    check_invariants(connect)


@pytest.mark.parametrize("method, kind", [("reportXBalance", "X_BALANCE"),
                                          ("reportZBalance", "Z_BALANCE"),
                                          ("reportBanking", "BANKING"),
                                          ("reportEndOfDay", "END_OF_DAY")])
@case("connect/4.8/1", title="each report, with balances from the terminal's own journal",
      section="4.8", failure="report totals differ from what the terminal took")
def test_reports(connect: Any, method: str, kind: str) -> None:
    c = connect.open()
    sale(connect, c, amount=1000)
    sale(connect, c, amount=500)
    sale(connect, c, method="refund", amount=300)
    rsp = connect.run(lambda: c.call(method, {"tid": GBP}))
    r = rsp.result
    assert r["reportType"] == kind and r["reportResult"] == "COMPLETE"
    assert all("value" in line for line in r["reportLines"])
    if "balances" in r:
        b = r["balances"]
        assert (b["totalSalesAmount"], b["totalSalesCount"]) == (1500, 2)
        assert (b["totalRefundsAmount"], b["totalRefundsCount"]) == (300, 1)
        assert b["totalAmount"] == 1200
    if "banking" in r:
        (acq,) = r["banking"].values()
        assert acq["currentSessionTotals"]["totalAmount"] == 1200
    if connect.reference:
        assert connect.server.acquirer.ledger.balance()["net"] == 1200
    check_invariants(connect)


@case("connect/4.8/2", title="a Z report starts the next totals from zero", section="4.8",
      failure="X after Z still counts transactions before the Z")
def test_z_resets(connect: Any) -> None:
    c = connect.open()
    sale(connect, c, amount=1000)

    def script():  # type: ignore[no-untyped-def]
        yield from c.call("reportZBalance", {"tid": GBP})
        x = yield from c.call("reportXBalance", {"tid": GBP})
        return x.result

    x = connect.run(script)
    assert x["balances"]["totalSalesCount"] == 0


@case("connect/8/1", title="a EUR terminal takes EUR in cents", section="8",
      failure="currency is not honoured")
def test_eur(connect: Any) -> None:
    c = connect.open()
    tx = sale(connect, c, tid=EUR, currency="EUR", amount=250)
    assert tx["currency"] == "EUR" and tx["amountTotal"] == 250
    check_invariants(connect)
