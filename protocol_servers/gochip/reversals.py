"""Reversals: ``REQ_PROCESS_REVERSAL``, and the 1.6 refund that becomes a reversal.

What the material says (semi-and-websockets.md §B.5, W-REV15, W-UPD16): the SDK reverses
by ``uniqueRef`` (or ``orderId`` + ``previousTxnDateTime``) with a ``reason`` and calls
back ``onReversalRetrieved``; from 1.6 that callback carries the original sale's payment
details with the final amount (a ``CoreSaleResponse``: "reversals update the initial
transaction amount", the cardholder sees one transaction), and a refund that is not
possible is processed as a reversal, its refund callback then carrying the sale
response instead of a refund response.

What is ours:

* the WebSocket names: ``REQ_PROCESS_REVERSAL`` and ``RES_ON_REVERSAL_RETRIEVED`` are the
  note's inference from the SDK's names (not seen in any sample);
* which refund "is not possible": a refund of a sale still in the open batch (not yet
  settled), for its whole amount, by a POS on the 1.6 line (configured with an API
  key). The gateway reverses it instead and ``RES_ON_REFUND_RESPONSE`` carries
  ``saleResponse``. A 1.5.x POS, a settled sale or a part of the amount is refunded;
* the shared gateway reverses whole sales only, so a reversal for part of the amount
  is refused (``PARTIAL_REVERSAL_NOT_OFFERED``: refund the part instead), as is one of a
  settled sale (``TRANSACTION_SETTLED``: refund it) or of a sale already refunded;
* the answer: the original ``saleResponse`` with ``authorizedAmount`` the final amount
  (0 after a whole reversal), ``description`` ``REVERSED`` and the reversal's
  ``reversalUniqueRef`` (ours); a reversal the gateway refuses keeps the amount, code D.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.gochip import frames
from protocol_servers.gochip.agent import handles
from protocol_servers.gochip.frames import Amount, Frame
from protocol_servers.gochip.records import Record

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Session

Gen = Generator[simpy.Event, Any, Any]
ANSWER = "RES_ON_REVERSAL_RETRIEVED"  # ours (the note's inference)


def as_reversal(session: Session, sale: Record, amount: int) -> bool:
    """Whether a refund of ``amount`` on ``sale`` is processed as a reversal (1.6)."""
    return (session.sdk == "1.6" and sale.batch is None and sale.refunded == 0
            and amount == sale.amount)


def refusal(sale: Record | None, amount: int | None) -> tuple[str, str] | None:
    """(error code, why) when ``sale`` cannot be reversed, else None."""
    if sale is None or sale.kind != "SALE":
        return "TRANSACTION_NOT_FOUND", "no such sale"
    if not sale.approved or sale.ledger_ref is None:
        return "TRANSACTION_NOT_REVERSIBLE", f"sale {sale.unique_ref} is {sale.status.lower()}"
    if sale.batch is not None:
        return "TRANSACTION_SETTLED", (f"sale {sale.unique_ref} is settled (batch "
                                       f"{sale.batch}): refund it instead")
    if sale.refunded:
        return "TRANSACTION_NOT_REVERSIBLE", f"sale {sale.unique_ref} was partly refunded"
    if amount is not None and amount != sale.amount:
        return "PARTIAL_REVERSAL_NOT_OFFERED", ("the gateway reverses whole sales only: "
                                                "refund the part instead")
    return None


def reverse(session: Session, sale: Record, answer: str, source: str) -> None:
    """Reverse ``sale`` at the gateway, then send ``answer`` with its sale response."""
    agent = session.agent
    ledger_ref = sale.ledger_ref
    assert ledger_ref is not None

    def run() -> Gen:
        yield session.world.timeout(agent.timings["host_roundtrip"])
        entry = agent.acquirer.reverse(ledger_ref, key=f"reversal-{sale.unique_ref}")
        body = dict(sale.response) or {"uniqueRef": sale.unique_ref, "orderId": sale.order_id,
                                       "currency": sale.currency, "cardNumber": sale.masked_pan,
                                       "cardType": sale.card_type}
        body["reversalUniqueRef"] = entry.ref  # ours
        if entry.approved:
            sale.reversed = True
            body.update(authorizedAmount=Amount(0), code="A", description="REVERSED")
        else:
            body.update(authorizedAmount=Amount(sale.amount), code="D",
                        description="REVERSAL DECLINED")
        session.send(frames.response(answer, {"saleResponse": body}))
    session.later(source, run)


def find(session: Session, data: dict[str, Any]) -> Record | None:
    """The sale a reversal names: ``uniqueRef``, or ``orderId`` (with
    ``previousTxnDateTime``, the 1.5.x way, checked against the sale's date)."""
    records = session.agent.records
    ref = frames.text(data, "uniqueRef", limit=32)
    order = frames.text(data, "orderId", limit=24)
    when = frames.text(data, "previousTxnDateTime", limit=40)
    if ref is None and order is None:
        raise frames.FieldError("uniqueRef (or orderId with previousTxnDateTime) is required")
    if ref is not None:
        return records.get(ref)
    for rec in records.items.values():
        if rec.kind == "SALE" and rec.order_id == order and (
                when is None or when[:10] == rec.when.strftime("%Y-%m-%d")):
            return rec
    return None


@handles("REQ_PROCESS_REVERSAL")  # ours: the note's inferred name
def process_reversal(session: Session, frame: Frame) -> None:
    d = frame.data
    frames.text(d, "reason", limit=256)
    amount = frames.amount(d, required=False)
    sale = find(session, d)
    why = refusal(sale, amount)
    if why is not None:
        code, text = why
        session.error(frames.SDK_ERROR, code, text, frame.type)
        return
    assert sale is not None
    reverse(session, sale, ANSWER, frame.type)
