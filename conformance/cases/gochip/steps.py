"""Steps the GoChip cases share: set up, sell, wait for frames, check invariants."""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import Any

from conformance.invariants import ledger_balanced, no_full_pan
from protocol_servers.gochip.client import FINALS, GoChipClient, told

Gen = Generator[Any, Any, Any]
ERRORS = ("RES_ON_ERROR", "RES_ON_WS_ERROR", "RES_ON_DEVICE_ERROR")


def sale_of(msg: dict[str, Any] | None) -> dict[str, Any]:
    assert msg is not None, "no final frame arrived"
    assert msg["type"] == "RES_ON_SALE_RESPONSE", f"the sale ended with {msg['type']}: {msg}"
    return msg["data"]["saleResponse"]  # type: ignore[no-any-return]


def setup_and_sell(c: GoChipClient, amount: str, **extra: Any) -> Gen:
    yield from c.setup()
    final = yield from c.sale(amount, **extra)
    yield from c.wait_for("RES_ON_MESSAGE", 30.0)  # let REMOVE_CARD arrive
    return final


def error_of(msg: dict[str, Any] | None, source: str) -> dict[str, Any]:
    assert msg is not None, f"no answer to {source}"
    assert msg["type"] in ERRORS, f"{source} was not refused: {msg['type']}"
    assert msg.get("responseType") == "RESPONSE_ERROR_GENERAL", msg
    assert msg.get("messageTypeSource") == source, f"messageTypeSource is not {source}: {msg}"
    assert msg.get("description"), "an error frame needs a description"
    return msg


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def check_invariants(target: Any) -> None:
    """After a case: one final frame per sale asked, no PAN in clear, ledger balanced."""
    for c in target.clients:
        sales = sum(1 for m in c.sent if m["type"] == "REQ_PROCESS_SALE")
        finals = sum(1 for m in c.received
                     if m.get("type") in FINALS or (
                         m.get("type") == "RES_ON_CANCEL_TRANSACTION_ATTEMPT"
                         and m["data"].get("cancellationStatus") == "CANCELLED")
                     or (m.get("type") in ERRORS
                         and m.get("messageTypeSource") == "REQ_PROCESS_SALE"))
        if not c.closed:
            assert finals >= sales, f"{sales} sales, {finals} final frames: {c.types()}"
    no_full_pan(target.world.transcript)
    agent = target.agent
    if agent is not None:
        assert not agent.ledger_problems(), agent.ledger_problems()
        ledger_balanced(agent.bookings(), dict(told(target.clients)))
