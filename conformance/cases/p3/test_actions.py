"""payworks-p3.md §4.5/§7.2 (signature), §7.3 (application selection), §7.4 (identification),
§4.2 (credit/debit selection): each action answered, unanswered and answered wrongly."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of

# amount -> (action it raises, a right answer, a wrong answer of another SUBMIT type)
ACTIONS = {
    "CUSTOMER_SIGNATURE": ("10.00", "SUBMIT_SIGNATURE_REQUEST",
                           {"signature": "iVBORw0KGgoAAAANSUhEUg==", "verified": True}),
    "APPLICATION_SELECTION": ("5.10", "SUBMIT_APPLICATION_SELECTION_REQUEST", None),
    "CUSTOMER_IDENTIFICATION": ("5.20", "SUBMIT_IDENTIFICATION_REQUEST", {"verified": True}),
    "CREDIT_DEBIT_SELECTION": ("5.30", "SUBMIT_CREDIT_DEBIT_SELECTION_REQUEST",
                               {"selection": "DEBIT"}),
}
WRONG = {
    "CUSTOMER_SIGNATURE": ("SUBMIT_IDENTIFICATION_REQUEST", {"verified": True}),
    "APPLICATION_SELECTION": ("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}),
    "CUSTOMER_IDENTIFICATION": ("SUBMIT_CREDIT_DEBIT_SELECTION_REQUEST", {"selection": "CREDIT"}),
    "CREDIT_DEBIT_SELECTION": ("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}),
}


def _answer(kind: str, action: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    _, rtype, body = ACTIONS[kind]
    if body is None:
        apps = action["executeTransactionAction"]["applications"]
        body = {"applicationIdentifier": apps[-1]["applicationIdentifier"]}
    return rtype, body


@pytest.mark.parametrize("kind", sorted(ACTIONS))
@case("p3/7.2/1", title="an action answered with the matching SUBMIT_* completes the charge",
      section="7.2", failure="an answered action does not lead to an approved charge")
def test_action_answered(p3: Any, kind: str) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=ACTIONS[kind][0])
        action = yield from c.action(tag)
        assert action is not None and action["type"] == "EXECUTE_TRANSACTION_ACTION"
        assert action["executeTransactionAction"]["action"] == kind
        rtype, body = _answer(kind, action)
        stag = c.request(rtype, body, p3.resource)
        sresp = yield from c.response(stag)
        return sresp, (yield from c.final(tag))

    sresp, final = p3.run(script)
    assert sresp["status"] == "OK"
    assert tx_of(final)["status"] == "APPROVED"
    check_invariants(p3)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
@case("p3/7.2/2", title="an action answered with the wrong SUBMIT_* is an action error and "
      "the action keeps waiting", section="7.2",
      failure="a wrong answer is accepted, or it ends the transaction")
def test_action_answered_wrongly(p3: Any, kind: str) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=ACTIONS[kind][0])
        action = yield from c.action(tag)
        wtype, wbody = WRONG[kind]
        wresp = yield from c.response(c.request(wtype, wbody, p3.resource))
        rtype, body = _answer(kind, action)
        yield from c.response(c.request(rtype, body, p3.resource))
        return wresp, (yield from c.final(tag))

    wresp, final = p3.run(script)
    assert wresp["status"] == "ERROR"
    assert wresp["error"]["type"] == "TRANSACTION_ACTION_ERROR"
    assert tx_of(final)["status"] == "APPROVED"
    check_invariants(p3)


@pytest.mark.parametrize("kind", sorted(ACTIONS))
@case("p3/7.2/3", title="an unanswered action ends the transaction as failed, nothing booked",
      section="7.2", failure="an unanswered action hangs forever or leaves money booked")
def test_action_unanswered(p3: Any, kind: str) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=ACTIONS[kind][0])
        return (yield from c.final(tag, timeout=400))

    t = tx_of(p3.run(script))
    assert t["status"] == "ERROR"
    assert "merchantReceipt" not in t
    check_invariants(p3)


@case("p3/7.2/4", title="a signature given after the action timeout: the charge ends failed "
      "and reversed, the late SUBMIT_SIGNATURE is an error", section="7.2",
      failure="a late signature completes a timed-out charge, or leaves it booked")
def test_late_signature(p3: Any, verdict: Any) -> None:
    """catalogue human.late_signature: the POS answers CUSTOMER_SIGNATURE ``delay`` s late."""
    from conformance.faults import answer_delay, load_catalogue, note

    spec = load_catalogue()["human.late_signature"]
    delay = answer_delay(spec)
    if p3.reference:
        # the fault is only a fault if it is later than the server's action timeout
        assert delay > p3.server.timings["action_timeout"]
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=ACTIONS["CUSTOMER_SIGNATURE"][0])
        action = yield from c.action(tag)
        assert action is not None and action["type"] == "EXECUTE_TRANSACTION_ACTION"
        assert action["executeTransactionAction"]["action"] == "CUSTOMER_SIGNATURE"
        note(p3.world, "pos", spec, f"signature submitted after {delay:g} s")
        yield p3.world.timeout(delay)
        rtype, body = _answer("CUSTOMER_SIGNATURE", action)
        late = yield from c.response(c.request(rtype, body, p3.resource))
        return late, (yield from c.final(tag))

    late, final = p3.run(script)
    t = tx_of(final)
    if not p3.reference and late is not None and late["status"] == "OK" and \
            t["status"] == "APPROVED":
        verdict.informational(f"the target still waited for the signature after {delay:g} s; "
                              "its action timeout is longer than the catalogue's delay")
        check_invariants(p3)
        return
    assert t["status"] in ("ERROR", "ABORTED"), t["status"]
    assert "merchantReceipt" not in t
    assert late is not None, "the late SUBMIT_SIGNATURE got no answer"
    assert late["status"] == "ERROR" and late["type"] == "SUBMIT_SIGNATURE_RESPONSE"
    assert late["error"]["type"] == "TRANSACTION_ACTION_ERROR"
    if p3.reference:
        ident = t["identifier"]
        kinds = [e.kind for e in p3.ledger.entries if e.identifier == ident]
        # authorised (and auto-captured) before the signature was asked, then reversed
        assert kinds[0] == "AUTH" and kinds[-1] == "REVERSAL", kinds
        assert sum(a for i, a in p3.server.bookings() if i == ident) == 0
    check_invariants(p3)


@case("p3/4.5/1", title="SUBMIT_SIGNATURE with no pending action is an error", section="4.5",
      failure="a signature nobody asked for is accepted")
def test_signature_without_action(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        return (yield from c.response(c.request(
            "SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}, p3.resource)))

    resp = p3.run(script)
    assert resp["status"] == "ERROR" and resp["type"] == "SUBMIT_SIGNATURE_RESPONSE"


@case("p3/4.5/2", title="signature on the paper receipt puts a signature line on the "
      "merchant copy", section="4.5", failure="no signature line for a paper signature")
def test_signature_on_receipt(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="10.00")
        yield from c.action(tag)
        yield from c.response(c.request(
            "SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}, p3.resource))
        return (yield from c.final(tag))

    t = tx_of(p3.run(script))
    assert t["merchantReceipt"]["signatureLineRequired"] is True


@case("p3/7.4/1", title="identification not verified: the charge is declined "
      "DECLINED_VERIFICATION_FAILED, the display's reason names the identification, "
      "nothing booked", section="7.4", failure="an unverified customer is charged, or the decline "
      "carries another code or text")
def test_identification_refused(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="5.20")
        yield from c.action(tag)
        yield from c.response(c.request(
            "SUBMIT_IDENTIFICATION_REQUEST", {"verified": False}, p3.resource))
        return tag, (yield from c.final(tag))

    tag, final = p3.run(script)
    t = tx_of(final)
    # §7.4 and the SDK's mock: "not verified" fails the charge as a verification failure
    assert (t["status"], t["statusDetails"]["code"]) == ("DECLINED", "DECLINED_VERIFICATION_FAILED")
    assert t["captured"] is False
    last = [m["executeTransactionUpdate"]["details"] for m in c.messages(tag)
            if m["type"] == "EXECUTE_TRANSACTION_UPDATE"][-1]
    # §5.3: "Payment declined / $reason1$"; the reason names what failed
    assert (last["stateDetails"], last["information"][0]) == ("DECLINED", "Payment declined")
    assert "identification" in last["information"][1].lower(), last
    if p3.ledger is not None:
        assert [e for e in p3.ledger.entries if e.identifier == t["identifier"]] == [], \
            "an unverified customer's charge reached the gateway"
    check_invariants(p3)


@case("p3/7.3/1", title="application selection offers the card's applications and uses the "
      "chosen one", section="7.3", failure="the chosen application is not the one used")
def test_application_selection_uses_choice(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="5.10")
        action = yield from c.action(tag)
        apps = action["executeTransactionAction"]["applications"]
        assert len(apps) >= 2
        assert all({"applicationIdentifier", "applicationName"} <= set(a) for a in apps)
        bad = yield from c.response(c.request("SUBMIT_APPLICATION_SELECTION_REQUEST",
                                              {"applicationIdentifier": "A0000000999999"},
                                              p3.resource))
        yield from c.response(c.request("SUBMIT_APPLICATION_SELECTION_REQUEST",
                                        {"applicationIdentifier": apps[1]["applicationIdentifier"]},
                                        p3.resource))
        return apps[1], bad, (yield from c.final(tag))

    chosen, bad, final = p3.run(script)
    assert bad["status"] == "ERROR"
    t = tx_of(final)
    assert t["merchantReceipt"]["paymentDetails"][0]["value"] == chosen["applicationName"]
