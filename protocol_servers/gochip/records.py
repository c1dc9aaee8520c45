"""The agent's own record of transactions: the list, the batch, and what the POS was told.

One :class:`Record` per sale or refund, kept by the agent for the whole run (as the
gateway keeps them for ``REQ_GET_TRANSACTIONS``, §B.5). ``ledger_ref`` is the shared
acquirer's entry, so what the POS was told can be checked against the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol_servers.gochip.frames import Amount

# ISO 8583 field 39 -> GoChip final code (§B.4 step 8: A approved, D declined, C pick
# up, R referral). Choice: which response codes are pick-up and referral follows the
# ISO 8583 meanings (04/07/41/43 pick up, 01/02 refer to issuer).
PICK_UP = frozenset({"04", "07", "41", "43"})
REFERRAL = frozenset({"01", "02"})
DESCRIPTIONS = {"A": "APPROVAL", "D": "DECLINED", "C": "PICK UP", "R": "REFERRAL"}


def code_for(approved: bool, response_code: str) -> str:
    if approved:
        return "A"
    if response_code in PICK_UP:
        return "C"
    if response_code in REFERRAL:
        return "R"
    return "D"


@dataclass
class Record:
    unique_ref: str
    order_id: str
    kind: str  # SALE | REFUND
    amount: int
    currency: str
    when: datetime
    code: str = ""  # A D C R, "" while running
    description: str = ""
    masked_pan: str = ""
    card_type: str = ""
    ledger_ref: str | None = None
    reversed: bool = False
    refunded: int = 0
    batch: int | None = None  # the batch number once closed
    original: str | None = None  # a referenced refund's sale
    emv_tags: list[dict[str, str]] = field(default_factory=list)
    told: bool = False  # the POS received this record's final frame
    # a sale's final saleResponse body, answered again (final amount) by a reversal
    response: dict[str, Any] = field(default_factory=dict)
    owner: Any = None  # the session that asked for it

    @property
    def approved(self) -> bool:
        return self.code == "A" and not self.reversed

    @property
    def status(self) -> str:
        if self.reversed:
            return "REVERSED"
        return {"A": "APPROVED", "D": "DECLINED", "C": "DECLINED", "R": "REFERRAL"}.get(
            self.code, "PENDING")

    def listing(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id, "uniqueRef": self.unique_ref,
            "amount": Amount(self.amount), "currency": self.currency,
            "cardNumber": self.masked_pan, "cardType": self.card_type,
            "transactionDate": iso(self.when),
            "transactionState": "CLOSED" if self.batch is not None else "OPEN",
            "transactionStatus": self.status, "transactionType": self.kind,
        }


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class Records:
    """Every record of the run, in order, with the open batch."""

    def __init__(self) -> None:
        self.items: dict[str, Record] = {}
        self.batches = 0

    def add(self, record: Record) -> Record:
        self.items[record.unique_ref] = record
        return record

    def get(self, unique_ref: str) -> Record | None:
        return self.items.get(unique_ref)

    def listing(self, order_id: str | None = None, unique_ref: str | None = None,
                kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        for r in self.items.values():
            if not r.code:
                continue
            if order_id is not None and r.order_id != order_id:
                continue
            if unique_ref is not None and r.unique_ref != unique_ref:
                continue
            if kind is not None and r.kind != kind:
                continue
            out.append(r.listing())
        return out

    def close_batch(self, now: datetime) -> dict[str, Any]:
        """Close every finished, open record into the next batch and total it."""
        self.batches += 1
        sales = refunds = 0
        n_sales = n_refunds = 0
        for r in self.items.values():
            if r.batch is not None or not r.code:
                continue
            r.batch = self.batches
            if not r.approved:
                continue
            if r.kind == "SALE":
                sales += r.amount
                n_sales += 1
            else:
                refunds += r.amount
                n_refunds += 1
        return {"batch": {
            "batchNumber": self.batches, "closedAt": iso(now),
            "saleCount": n_sales, "saleTotal": Amount(sales),
            "refundCount": n_refunds, "refundTotal": Amount(refunds),
            "netTotal": Amount(sales - refunds), "transactionCount": n_sales + n_refunds,
        }}
