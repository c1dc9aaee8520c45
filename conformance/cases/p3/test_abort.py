"""payworks-p3.md §4.6 / §7.6: abort at every state, abortable and not."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of

STATES = [
    ("5.00", "CONNECTING_TO_ACCESSORY", True),
    ("5.00", "INITIALIZING_TRANSACTION_REGISTERING", True),
    ("5.00", "PROCESSING_WAITING_FOR_CARD_PRESENTATION", True),
    ("22.00", "PROCESSING_WAITING_FOR_PIN", True),
    ("5.10", "PROCESSING_ACTION_REQUIRED", True),   # application selection pending
    ("10.00", "PROCESSING_ACTION_REQUIRED", True),  # signature pending, after approval
    ("5.00", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL", False),
    ("5.00", "PROCESSING_WAITING_FOR_CARD_REMOVAL", False),
]


@pytest.mark.parametrize("amount, state, abortable", STATES)
@case("p3/4.6/1", title="abort: its own response first, then the final response; accepted "
      "only while the last update said abortable", section="4.6",
      failure="abort is accepted when not abortable, refused when abortable, or the final "
      "response is missing")
def test_abort_at_state(p3: Any, amount: str, state: str, abortable: bool) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount=amount)
        upd = yield from c.update(tag, state)
        assert upd is not None and upd["type"] == "EXECUTE_TRANSACTION_UPDATE", \
            f"never reached {state}"
        said = upd["executeTransactionUpdate"]["abortable"]
        atag = c.request("ABORT_TRANSACTION_REQUEST", None, p3.resource)
        aresp = yield from c.response(atag)
        final = yield from c.final(tag)
        return said, aresp, final, tag, atag

    said, aresp, final, tag, atag = p3.run(script)
    assert said is abortable, f"update at {state} said abortable={said}"
    t = tx_of(final)
    if abortable:
        assert aresp["status"] == "OK", aresp
        assert t["status"] == "ABORTED"
        assert t["statusDetails"]["code"] == "ABORTED_MERCHANT_ABORTED"
    else:
        assert aresp["status"] == "ERROR"
        assert aresp["error"]["type"] == "TRANSACTION_NO_LONGER_ABORTABLE"
        assert t["status"] == "APPROVED"
    order = [m["tag"] for m in c.received if m["type"] in (
        "ABORT_TRANSACTION_RESPONSE", "EXECUTE_TRANSACTION_RESPONSE")]
    assert order == [atag, tag], "the abort response must come before the final response"
    check_invariants(p3)


@case("p3/4.6/2", title="abort with no running transaction is an error", section="4.6",
      failure="an abort of nothing is answered OK")
def test_abort_nothing(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        return (yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None, p3.resource)))

    resp = p3.run(script)
    assert resp["status"] == "ERROR"


@case("p3/4.6/3", title="the 'abort operation' spelling is accepted and answered in kind",
      section="4.6", failure="ABORT_OPERATION_REQUEST is not understood", )
def test_abort_operation_alias(p3: Any, verdict: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="5.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        aresp = yield from c.response(c.request("ABORT_OPERATION_REQUEST", None, p3.resource))
        return aresp, (yield from c.final(tag))

    aresp, final = p3.run(script)
    if aresp["status"] == "ERROR" and aresp["error"]["type"] == "PARAMETER_INVALID":
        verdict.non_strict("the server only knows ABORT_TRANSACTION_REQUEST")
        return
    assert aresp["type"] == "ABORT_OPERATION_RESPONSE" and aresp["status"] == "OK"
    assert tx_of(final)["status"] == "ABORTED"
