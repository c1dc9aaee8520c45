"""payworks-p3.md §2-§4.6 at the edges of the wire: two requests in one TCP packet, text
JSON allows and UTF-8 does not, and what a run's transcript says of each message a POS
received (type, tag, status, and the action or step it carries; never the payload)."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, login, tx_of

RESOURCE = "devices/mockReader"


def _frame(text: str) -> bytes:
    """§2.2: a 4-byte big-endian length, then the UTF-8 payload."""
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def _wire(p3: Any, text: str) -> bytes | str:
    return _frame(text) if p3.transport == "tcp" else text


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/4.6/6", title="an abort in the same TCP packet as its charge: the transaction is "
      "abortable from the start, so the abort is answered OK first and the charge ends "
      "ABORTED_MERCHANT_ABORTED with nothing booked", section="4.6",
      failure="a charge that has not started yet refuses an abort, or is charged anyway")
def test_abort_in_the_charges_packet(p3: Any) -> None:
    c = p3.client()
    execute = ('{"tag":"x-1","type":"EXECUTE_TRANSACTION_REQUEST","resource":"' + RESOURCE
               + '","executeTransactionRequest":{"mode":"ONLINE","transactionParameters":'
               '{"type":"CHARGE","amount":5.00,"currency":"EUR"}}}')
    abort = '{"tag":"a-1","type":"ABORT_TRANSACTION_REQUEST","resource":"' + RESOURCE + '"}'

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        c.send_raw(_frame(execute) + _frame(abort))
        aresp = yield from c.response("a-1")
        return aresp, (yield from c.final("x-1"))

    aresp, final = p3.run(script)
    assert aresp["status"] == "OK", aresp
    t = tx_of(final)
    assert (t["status"], t["statusDetails"]["code"]) == ("ABORTED", "ABORTED_MERCHANT_ABORTED")
    order = [m["tag"] for m in c.received if m["tag"] in ("a-1", "x-1") and m["type"] in (
        "ABORT_TRANSACTION_RESPONSE", "EXECUTE_TRANSACTION_RESPONSE")]
    assert order == ["a-1", "x-1"], order
    if p3.ledger is not None:
        assert p3.ledger.entries == [], "an aborted charge reached the gateway"


@case("p3/3/4", title="a lone surrogate (\\ud800, valid JSON, not UTF-8 text) in a field is "
      "PARAMETER_INVALID answered with the request's own response type and tag; in the type "
      "itself, the type cannot be echoed and the tag still is; the connection goes on",
      section="3", failure="text that cannot be UTF-8 is accepted, or answered under a type "
      "or tag the POS cannot match")
def test_lone_surrogate(p3: Any) -> None:
    c = p3.client()
    in_field = ('{"tag":"s-1","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":'
                '{"providerMode":"MOCK","merchantIdentifier":"\\ud800","merchantSecret":"s"}}')
    in_type = '{"tag":"s-2","type":"LOGIN_\\ud800_REQUEST"}'

    def script():  # type: ignore[no-untyped-def]
        c.send_raw(_wire(p3, in_field))
        first = yield from c.response("s-1")
        c.send_raw(_wire(p3, in_type))
        second = yield from c.response("s-2")
        after = yield from c.login()
        return first, second, after

    first, second, after = p3.run(script)
    assert (first["type"], first["status"]) == ("LOGIN_MERCHANT_RESPONSE", "ERROR"), first
    assert first["error"]["type"] == "PARAMETER_INVALID"
    assert second["status"] == "ERROR" and second["error"]["type"] == "PARAMETER_INVALID"
    assert "\ud800" not in second["type"], "a type no UTF-8 text can hold was echoed"
    assert after["status"] == "OK", "the connection did not survive"


def _expected_label(m: dict[str, Any]) -> str:
    """payworks-p3.md §3's envelope read back: type, tag, status; an update's step or an
    action's kind."""
    parts = [m["type"], f"tag={m['tag']}"]
    if "status" in m:
        parts.append(m["status"])
    if m["type"] == "EXECUTE_TRANSACTION_UPDATE":
        parts.append(m["executeTransactionUpdate"]["details"]["stateDetails"])
    if m["type"] == "EXECUTE_TRANSACTION_ACTION":
        parts.append(m["executeTransactionAction"]["action"])
    return "P3 " + " ".join(parts)


@pytest.mark.parametrize("transport", ["ws"])
@case("p3/2.1/3", title="the transcript names each message the POS received by type, tag and "
      "status, each update by its step and each action by its kind", section="2.1",
      failure="the transcript of a run leaves out which step or action a message carried")
def test_received_message_labels(p3: Any) -> None:
    p3.need_reference("the transcript of the reference's in-memory link is read")
    name = "pos-labels"
    c = p3.client(name)

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="10.00")  # a signature is asked (§11)
        yield from c.action(tag)
        yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST",
                                        {"signature": "iVBORw0KGgo=", "verified": True},
                                        p3.resource))
        return (yield from c.final(tag))

    assert tx_of(p3.run(script))["status"] == "APPROVED"
    labels = [e.label for e in p3.world.transcript if e.port == name and e.direction == "rx"]
    assert labels == [_expected_label(m) for m in c.received], labels
    assert any(label.endswith(" CUSTOMER_SIGNATURE") for label in labels)
    check_invariants(p3)
