"""Steps the P3 cases share: log in, run a charge, answer actions, check invariants."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from conformance.invariants import ledger_balanced, no_full_pan, one_final_answer
from protocol_servers.p3.client import P3Client, told

Gen = Generator[Any, Any, Any]
MOCK_PAN = "5413330089010434"


def tx_of(msg: dict[str, Any] | None) -> dict[str, Any]:
    assert msg is not None, "no EXECUTE_TRANSACTION_RESPONSE arrived"
    assert msg.get("status") == "OK", f"execute answered {msg.get('status')}: {msg.get('error')}"
    return msg["executeTransactionResponse"]["transaction"]  # type: ignore[no-any-return]


def login(c: P3Client, target: Any) -> Gen:
    resp = yield from c.login()
    assert resp is not None and resp["status"] == "OK", f"login failed: {resp}"
    devices = resp["loginMerchantResponse"]["devices"]
    assert devices, "the server lists no devices"
    target.resource = devices[0]["resource"]
    return resp


def states(c: P3Client, tag: str) -> list[str]:
    return [m["executeTransactionUpdate"]["details"]["stateDetails"]
            for m in c.messages(tag) if m["type"] == "EXECUTE_TRANSACTION_UPDATE"]


def check_invariants(target: Any) -> None:
    """After a case: one final answer per execute, tags echoed, no PAN, ledger balanced."""
    for c in target.clients:
        asked = [m["tag"] for m in c.sent if m.get("type") == "EXECUTE_TRANSACTION_REQUEST"]
        sent_tags = {m["tag"] for m in c.sent}
        finals = [m["tag"] for m in c.received if m.get("type") == "EXECUTE_TRANSACTION_RESPONSE"]
        if not c.closed:
            one_final_answer(asked, finals)
        for m in c.received:
            if m.get("tag"):
                assert m["tag"] in sent_tags, f"{m['type']} carries a tag nobody sent"
    no_full_pan(target.world.transcript, known_pans=[MOCK_PAN])
    if target.ledger is not None:
        assert not target.server.ledger_problems(), target.server.ledger_problems()
        ledger_balanced(target.server.bookings(), told(target.clients))
