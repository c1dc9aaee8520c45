"""paymentsense-connect.md §4.7: the EPoS's answer to ``signatureVerificationRequest`` is
``{"accepted": true|false}`` and nothing else (``additionalProperties: false``, ``accepted``
a required boolean). An answer outside that schema is no answer the terminal can act on:
like silence (§4.7: "if no reply arrives, the signature is automatically accepted") the
sale stands, the EPoS hears ``SIGNATURE_VERIFICATION_PROCESS_COULD_NOT_BE_COMPLETED``
rather than ``…_PROCESS_COMPLETED``, and the result says why in ``userMessage``. In
particular a ``false`` wrapped in extra members does not void the sale.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import case

from .conftest import SIGN
from .steps import check_invariants, final, values


@pytest.mark.parametrize("answer", [
    {"result": {"accepted": True, "note": "signed"}},
    {"result": {"accepted": False, "note": "not signed"}},
    {"result": {"accepted": "false"}},
    {"result": {"accepted": 0}},
    {"result": {}},
    {"result": [False]},
    {"error": {"code": -32000, "message": "till busy"}},
], ids=["true-extra", "false-extra", "string", "zero", "empty", "array", "error"])
@case("connect/4.7/3", title="a signature answer outside the schema (extra member, accepted "
      "not a boolean, empty, an array, an error) is not acted on: the sale stands, "
      "COULD_NOT_BE_COMPLETED is said instead of PROCESS_COMPLETED, and userMessage says so",
      section="4.7", failure="the terminal acts on a malformed signature answer (voids the "
      "sale on a wrapped false) or reports it as a completed check")
def test_malformed_signature_answer(connect: Any, answer: dict[str, Any]) -> None:
    connect.choose(SIGN, "mc-chip-signature")
    c = connect.open(signature="ignore")  # this case answers by hand

    def script():  # type: ignore[no-untyped-def]
        rid = c.request("sale", {"tid": SIGN, "currency": "GBP", "amount": 2600})
        while not any(r["method"] == "signatureVerificationRequest"
                      for r in c.server_requests):
            yield connect.world.timeout(0.1)
        (ask,) = [r for r in c.server_requests
                  if r["method"] == "signatureVerificationRequest"]
        c.send_raw(json.dumps({"jsonrpc": "2.0", "id": ask["id"], **answer}))
        tx = yield from final(c, rid)
        c.remember(tx)
        return tx

    started = connect.world.now
    tx = connect.run(script)
    assert connect.world.now - started < 80, "the terminal waited out the signature timeout"
    assert tx["transactionResult"] == "SUCCESSFUL", tx["transactionResult"]
    assert tx["amountTotal"] == 2600 and tx["cardHolderVerificationMethod"] == "SIGNATURE"
    v = values(c)
    assert "SIGNATURE_VERIFICATION_PROCESS_COULD_NOT_BE_COMPLETED" in v, v
    assert "SIGNATURE_VERIFICATION_PROCESS_COMPLETED" not in v, v
    assert "SIGNATURE_VERIFICATION_TIMEOUT" not in v, v
    assert isinstance(tx.get("userMessage"), str) and tx["userMessage"], tx
    if connect.reference:
        live = [e for e in connect.server.acquirer.ledger.entries if e.live]
        assert [(e.kind, e.amount) for e in live] == [("sale", 2600)], live
    check_invariants(connect)


@case("connect/4.7/4", title="v0's signature request carries tpi, timeout and the merchant "
      "lines only; v1's carries every card field of §4.7 with its value", section="4.7",
      failure="the signature request speaks the other version, or a card field is wrong")
def test_signature_request_fields(connect: Any) -> None:
    from .test_fields import card_facts

    connect.choose(SIGN, "mc-chip-signature")
    c = connect.open()
    tx = connect.run(lambda: c.transaction("sale", SIGN, 2700)).result
    (ask,) = [r["params"] for r in c.server_requests
              if r["method"] == "signatureVerificationRequest"]
    card = card_facts("mc-chip-signature")
    want = {"tid": SIGN, "timeout": 80, "authCode": tx["authCode"],
            "applicationId": card["applicationId"],
            "applicationLabel": card["applicationLabel"],
            "cardholderVerificationMethod": "SIGNATURE", "paymentMethod": "ICC_CHIP",
            "primaryAccountNumber": card["primaryAccountNumber"], "transactionType": "SALE"}
    assert set(ask) == {*want, "receiptLines"}, sorted(ask)
    got = {k: ask[k] for k in want}
    assert got == want, {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert tx["authCode"], tx
    assert list(ask["receiptLines"]) == ["MERCHANT"], ask["receiptLines"]
    # §4.7: the merchant copy is the one to be signed: it has the line to sign on
    merchant = [line["value"] for line in ask["receiptLines"]["MERCHANT"]]
    assert any("SIGN" in v.upper() for v in merchant), merchant
    assert "MERCHANT COPY" in merchant, merchant
    c.close()

    connect.choose(SIGN, "mc-chip-signature")
    old = connect.open(version="v0")
    tx0 = connect.run(lambda: old.transaction("sale", SIGN, 2800)).result
    (ask0,) = [r["params"] for r in old.server_requests
               if r["method"] == "signatureVerificationRequest"]
    assert set(ask0) == {"tpi", "timeout", "receiptLines"}, sorted(ask0)
    assert ask0["tpi"] == SIGN and ask0["timeout"] == 80
    assert tx0["transactionResult"] == "SUCCESSFUL" and "userMessage" not in tx0
    check_invariants(connect)


@case("connect/4.7/5", title="two signature sales at once on one socket: two requests with "
      "different ids, each answer applied to its own terminal's sale (one accepted, one "
      "declined and VOID)", section="4.7",
      failure="the server reuses a request id while it is outstanding, or applies an "
      "answer to the other terminal's sale")
def test_two_signature_requests_at_once(connect: Any) -> None:
    magic = "VCMINVLSIS0"  # §11: the signature test terminal
    connect.choose(SIGN, "mc-chip-signature")
    c = connect.open(signature="ignore")  # this case answers by hand

    def script():  # type: ignore[no-untyped-def]
        first = c.request("sale", {"tid": SIGN, "currency": "GBP", "amount": 2100})
        second = c.request("sale", {"tid": magic, "currency": "GBP", "amount": 2200})
        while sum(r["method"] == "signatureVerificationRequest"
                  for r in c.server_requests) < 2:
            yield connect.world.timeout(0.1)
        asks = {r["params"]["tid"]: r["id"] for r in c.server_requests
                if r["method"] == "signatureVerificationRequest"}
        # answered in the other order than asked, each by its own id
        c.send_raw(json.dumps({"jsonrpc": "2.0", "id": asks[magic],
                               "result": {"accepted": False}}))
        c.send_raw(json.dumps({"jsonrpc": "2.0", "id": asks[SIGN],
                               "result": {"accepted": True}}))
        one = yield from final(c, first)
        two = yield from final(c, second)
        c.remember(one)
        c.remember(two)
        return asks, one, two

    asks, one, two = connect.run(script)
    assert len(set(asks.values())) == 2, f"both requests carry id {asks}"
    assert all(isinstance(i, int) and 0 <= i <= 999999 for i in asks.values()), asks
    assert (one["tid"], one["transactionResult"]) == (SIGN, "SUCCESSFUL"), one
    assert (two["tid"], two["transactionResult"]) == (magic, "VOID"), two
    if connect.reference:
        live = [e.amount for e in connect.server.acquirer.ledger.entries
                if e.kind == "sale" and e.live]
        assert live == [2100], live
    check_invariants(connect)
