"""Whole P3 flows against the reference server with MOCK readers, over both transports."""

from __future__ import annotations

from typing import Any

from protocol_servers.p3.client import P3Client

RESOURCE = "devices/mockReader"
Rig = Any  # the tests/p3/conftest.py rig fixture



def tx_of(msg: dict[str, Any]) -> dict[str, Any]:
    return msg["executeTransactionResponse"]["transaction"]  # type: ignore[no-any-return]


def test_login_lists_devices_and_echoes_tag(rig: Rig) -> None:
    c = rig.client()
    resp = rig.run(c.login)
    assert resp["status"] == "OK" and resp["tag"] == c.sent[0]["tag"]
    dev = resp["loginMerchantResponse"]["devices"][0]
    assert dev["resource"] == RESOURCE and dev["type"] == "MOCK"


def test_chip_pin_charge_is_approved_with_receipts(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="40.00")
        return tag, (yield from c.final(tag))

    tag, final = rig.run(script)
    t = tx_of(final)
    assert final["status"] == "OK" and t["status"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == "PIN"
    assert t["merchantReceipt"]["data"]["RECEIPT_TYPE"]["value"] == "Merchant Receipt"
    assert t["merchantReceipt"]["signatureLineRequired"] is False
    updates = [m for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]
    details = [u["executeTransactionUpdate"]["details"]["stateDetails"] for u in updates]
    assert "PROCESSING_WAITING_FOR_PIN" in details
    auth = [u for u in updates if u["executeTransactionUpdate"]["details"]["stateDetails"]
            == "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL"]
    assert auth and auth[0]["executeTransactionUpdate"]["abortable"] is False
    assert all(len(u["executeTransactionUpdate"]["details"]["information"]) == 2
               for u in updates)
    finals = [m for m in c.received if m["type"] == "EXECUTE_TRANSACTION_RESPONSE"]
    assert len(finals) == 1
    assert [e.kind for e in rig.server.gateway.ledger.entries] == ["AUTH", "CAPTURE"]


def sign(c: P3Client, body: dict[str, Any]):  # type: ignore[no-untyped-def]
    yield from c.login()
    tag = c.execute(RESOURCE, amount="10.00")
    action = yield from c.action(tag)
    assert action["executeTransactionAction"]["action"] == "CUSTOMER_SIGNATURE"
    stag = c.request("SUBMIT_SIGNATURE_REQUEST", body, RESOURCE)
    sresp = yield from c.response(stag)
    final = yield from c.final(tag)
    return sresp, final


def test_signature_charge_with_digital_signature(rig: Rig) -> None:
    c = rig.client()
    sresp, final = rig.run(sign, c, {"signature": "iVBORw0KGgo=", "verified": True})
    assert sresp["status"] == "OK" and sresp["type"] == "SUBMIT_SIGNATURE_RESPONSE"
    t = tx_of(final)
    assert t["status"] == "APPROVED"
    assert t["paymentDetails"]["customerVerification"] == "SIGNATURE"
    assert t["merchantReceipt"]["signatureLineRequired"] is False


def test_signature_on_paper_puts_a_signature_line_on_the_merchant_copy(rig: Rig) -> None:
    c = rig.client()
    _, final = rig.run(sign, c, {"signatureOnReceipt": True})
    t = tx_of(final)
    assert t["merchantReceipt"]["signatureLineRequired"] is True
    assert t["customerReceipt"]["signatureLineRequired"] is False


def test_unverified_signature_reverses_the_approval(rig: Rig) -> None:
    c = rig.client()
    _, final = rig.run(sign, c, {"signature": "iVBORw0KGgo=", "verified": False})
    assert tx_of(final)["status"] == "DECLINED"
    assert [e.kind for e in rig.server.gateway.ledger.entries] == ["AUTH", "CAPTURE", "REVERSAL"]
    assert rig.server.gateway.ledger.balanced


def test_multi_application_selection(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.10")
        action = yield from c.action(tag)
        apps = action["executeTransactionAction"]["applications"]
        assert len(apps) == 2
        wrong = c.request("SUBMIT_APPLICATION_SELECTION_REQUEST",
                          {"applicationIdentifier": "A0000000031010"}, RESOURCE)
        wresp = yield from c.response(wrong)
        ok = c.request("SUBMIT_APPLICATION_SELECTION_REQUEST",
                       {"applicationIdentifier": apps[1]["applicationIdentifier"]}, RESOURCE)
        oresp = yield from c.response(ok)
        return wresp, oresp, (yield from c.final(tag))

    wresp, oresp, final = rig.run(script)
    assert wresp["status"] == "ERROR" and wresp["error"]["type"] == "PARAMETER_INVALID"
    assert oresp["status"] == "OK"
    t = tx_of(final)
    assert t["status"] == "APPROVED" and t["paymentDetails"]["scheme"] == "MAESTRO"


def test_wrong_submit_type_is_an_action_error_and_the_action_still_waits(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="10.00")
        yield from c.action(tag)
        bad = c.request("SUBMIT_IDENTIFICATION_REQUEST", {"verified": True}, RESOURCE)
        bresp = yield from c.response(bad)
        good = c.request("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}, RESOURCE)
        yield from c.response(good)
        return bresp, (yield from c.final(tag))

    bresp, final = rig.run(script)
    assert bresp["error"]["type"] == "TRANSACTION_ACTION_ERROR"
    assert tx_of(final)["status"] == "APPROVED"


def test_unanswered_action_times_out_and_reverses(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="10.00")
        return (yield from c.final(tag))

    final = rig.run(script)
    t = tx_of(final)
    assert t["status"] == "ERROR" and t["statusDetails"]["code"] == "ERROR_SESSION_TIMEOUT"
    assert "merchantReceipt" not in t
    assert [e.kind for e in rig.server.gateway.ledger.entries][-1] == "REVERSAL"


def test_abort_while_waiting_for_card(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00")
        upd = yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        assert upd["executeTransactionUpdate"]["abortable"] is True
        atag = c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
        aresp = yield from c.response(atag)
        return tag, aresp, (yield from c.final(tag))

    tag, aresp, final = rig.run(script)
    assert aresp["status"] == "OK" and aresp["type"] == "ABORT_TRANSACTION_RESPONSE"
    t = tx_of(final)
    assert t["status"] == "ABORTED" and t["statusDetails"]["code"] == "ABORTED_MERCHANT_ABORTED"
    order = [m["type"] for m in c.received if m.get("tag") in (tag, aresp["tag"])]
    assert order.index("ABORT_TRANSACTION_RESPONSE") < order.index("EXECUTE_TRANSACTION_RESPONSE")
    assert rig.server.gateway.ledger.entries == []


def test_abort_during_authorisation_is_refused_and_the_charge_completes(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL")
        atag = c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
        return (yield from c.response(atag)), (yield from c.final(tag))

    aresp, final = rig.run(script)
    assert aresp["status"] == "ERROR"
    assert aresp["error"]["type"] == "TRANSACTION_NO_LONGER_ABORTABLE"
    assert tx_of(final)["status"] == "APPROVED"


def test_abort_during_signature_reverses_the_approval(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="10.00")
        yield from c.action(tag)
        atag = c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
        yield from c.response(atag)
        return (yield from c.final(tag))

    final = rig.run(script)
    assert tx_of(final)["status"] == "ABORTED"
    kinds = [e.kind for e in rig.server.gateway.ledger.entries]
    assert kinds == ["AUTH", "CAPTURE", "REVERSAL"]


def test_abort_with_nothing_running(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        atag = c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
        return (yield from c.response(atag))

    assert rig.run(script)["error"]["type"] == "TRANSACTION_INVALID"


def test_referenced_refund_then_overdrawn_refund(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00")
        charge = tx_of((yield from c.final(tag)))
        ident = charge["identifier"]
        r1 = c.execute(RESOURCE, type_="REFUND", amount="3.00",
                       referencedTransactionIdentifier=ident)
        first = yield from c.final(r1)
        r2 = c.execute(RESOURCE, type_="REFUND", amount="3.00",
                       referencedTransactionIdentifier=ident)
        second = yield from c.final(r2)
        return ident, first, second

    ident, first, second = rig.run(script)
    t = tx_of(first)
    assert t["type"] == "REFUND" and t["status"] == "APPROVED"
    assert t["referencedTransactionIdentifier"] == ident
    assert second["status"] == "ERROR" and second["error"]["type"] == "PARAMETER_INVALID"
    assert rig.server.gateway.ledger.balanced


def test_standalone_refund_reads_a_card(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, type_="REFUND", amount="7.00")
        return tag, (yield from c.final(tag))

    tag, final = rig.run(script)
    t = tx_of(final)
    assert t["type"] == "REFUND" and t["status"] == "APPROVED"
    assert t["paymentDetails"]["maskedAccountNumber"].startswith("541333")
    assert any(m["type"] == "EXECUTE_TRANSACTION_UPDATE" and
               m["executeTransactionUpdate"]["details"]["stateDetails"]
               == "PROCESSING_WAITING_FOR_CARD_PRESENTATION" for m in c.messages(tag))


def test_preauthorisation_capture_and_tip_adjust(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00", autoCapture=False)
        auth = tx_of((yield from c.final(tag)))
        ident = auth["identifier"]
        cap = yield from c.final(c.execute(RESOURCE, type_="CAPTURE", amount=None,
                                           currency=None, referencedTransactionIdentifier=ident))
        again = yield from c.final(c.execute(RESOURCE, type_="CAPTURE", amount=None,
                                             currency=None, referencedTransactionIdentifier=ident))
        tip = yield from c.final(c.execute(RESOURCE, type_="TIP_ADJUST", amount="1.00",
                                           referencedTransactionIdentifier=ident))
        return auth, cap, again, tip

    auth, cap, again, tip = rig.run(script)
    assert auth["status"] == "APPROVED" and auth["captured"] is False
    assert tx_of(cap)["captured"] is True and tx_of(cap)["identifier"] == auth["identifier"]
    assert again["status"] == "ERROR" and again["error"]["type"] == "TRANSACTION_INVALID"
    t = tx_of(tip)
    assert str(t["amount"]) == "6.00" and str(t["details"]["includedTipAmount"]) == "1.00"
    assert t["details"]["tipAdjustStatus"] == "ADJUSTED"
    assert rig.server.gateway.ledger.balanced


def test_second_transaction_on_a_busy_device_is_refused(rig: Rig) -> None:
    a, b = rig.client("pos-a"), rig.client("pos-b")

    def script():  # type: ignore[no-untyped-def]
        yield from a.login()
        yield from b.login()
        tag = a.execute(RESOURCE, amount="5.00")
        yield from a.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        busy = yield from b.final(b.execute(RESOURCE, amount="6.00"))
        return busy, (yield from a.final(tag))

    busy, final = rig.run(script)
    assert busy["status"] == "ERROR" and busy["error"]["type"] == "ACCESSORY_BUSY"
    assert tx_of(final)["status"] == "APPROVED"


def test_disconnect_after_authorisation_auto_reverses(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL")
        c.end.close()
        yield rig.world.timeout(30)
        return tag

    rig.run(script)
    (tx,) = rig.server.transactions.values()
    assert tx.status == "ERROR" and tx.status_code == "ERROR_AUTOREVERSAL_LOGOUT"
    ledger = rig.server.gateway.ledger
    assert [e.kind for e in ledger.entries] == ["AUTH", "CAPTURE", "REVERSAL"]
    assert ledger.entries[-1].reason == "ERROR_AUTOREVERSAL_LOGOUT"
    assert ledger.balanced
    assert rig.server.devices["mockReader"].current is None


def test_disconnect_while_waiting_for_card_aborts_without_booking(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        c.end.close()
        yield rig.world.timeout(30)

    rig.run(script)
    (tx,) = rig.server.transactions.values()
    assert tx.status == "ERROR" and tx.status_code == "ERROR_AUTOREVERSAL_LOGOUT"
    assert rig.server.gateway.ledger.entries == []


def test_requests_before_login_and_on_unknown_devices_are_errors(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        before = yield from c.final(c.execute(RESOURCE, amount="5.00"))
        yield from c.login()
        unknown = yield from c.final(c.execute("devices/nope", amount="5.00"))
        missing = yield from c.final(c.execute(RESOURCE, amount=None))
        garbage = c.request("FROBNICATE_REQUEST", {}, RESOURCE)
        g = yield from c.response(garbage)
        still = yield from c.login()
        return before, unknown, missing, g, still

    before, unknown, missing, g, still = rig.run(script)
    # nobody logged in yet: a missing login, not a failed authentication
    assert before["error"]["type"] == "PARAMETER_MISSING"
    assert before["error"]["message"] == "Merchant login missing"
    assert "LOGIN_MERCHANT_REQUEST" in before["error"]["developerMessage"]
    assert unknown["error"]["type"] == "ACCESSORY_NOT_FOUND"
    assert missing["error"]["type"] == "PARAMETER_MISSING"
    assert g["type"] == "FROBNICATE_RESPONSE" and g["error"]["type"] == "PARAMETER_INVALID"
    assert still["status"] == "OK"


def test_same_seed_gives_the_same_transcript(rig_factory: Any) -> None:
    def once() -> str:
        rig = rig_factory(3, "tcp")
        c = rig.client()

        def script():  # type: ignore[no-untyped-def]
            yield from c.login()
            yield from c.final(c.execute(RESOURCE, amount="40.00"))

        rig.run(script)
        return rig.world.transcript.jsonl()  # type: ignore[no-any-return]

    first = once()
    assert first == once()
    assert "5413330089010434" not in first


def test_disconnect_during_a_standalone_refund_takes_the_refund_back(rig: Rig) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, type_="REFUND", amount="7.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_REMOVAL")
        c.end.close()
        yield rig.world.timeout(30)

    rig.run(script)
    ledger = rig.server.gateway.ledger
    assert [e.kind for e in ledger.entries] == ["REFUND", "REVERSAL"]
    assert ledger.balanced and sum(a for _, a in ledger.bookings()) == 0
