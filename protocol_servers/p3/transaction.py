"""One P3 transaction as data and rules, without I/O.

The SimPy flow (:mod:`flows`) moves a :class:`Transaction` through its states; the rules
that decide what a POS request does to it live here, so they can be tested without a
clock: whether an abort is accepted (payworks-p3.md §4.6), whether a ``SUBMIT_*`` answers
the pending action (§4.5, §7.2-7.4), and what the update, action and final messages look
like (§4.4, decision §15.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from protocol_servers.p3 import envelope
from protocol_servers.p3.errors import P3Error
from protocol_servers.p3.money import display, to_major

# Which SUBMIT_* request answers which action (payworks-p3.md §4.2, §6 TransactionAction).
ANSWERS = {
    "CUSTOMER_SIGNATURE": "SUBMIT_SIGNATURE_REQUEST",
    "APPLICATION_SELECTION": "SUBMIT_APPLICATION_SELECTION_REQUEST",
    "CUSTOMER_IDENTIFICATION": "SUBMIT_IDENTIFICATION_REQUEST",
    "CREDIT_DEBIT_SELECTION": "SUBMIT_CREDIT_DEBIT_SELECTION_REQUEST",
}
SUBMIT_TYPES = frozenset(ANSWERS.values())
FINAL_STATUSES = frozenset({"APPROVED", "DECLINED", "ABORTED", "ERROR", "ACCEPTED", "INCONCLUSIVE"})


@dataclass
class Params:
    """Validated ``transactionParameters`` with the amount in minor units."""

    type: str
    amount: int | None
    currency: str | None
    auto_capture: bool = True
    subject: str | None = None
    custom_identifier: str | None = None
    statement_descriptor: str | None = None
    application_fee: int | None = None
    included_tip: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    mode: str = "ONLINE"


@dataclass
class PendingAction:
    kind: str
    payload: dict[str, Any]


@dataclass
class CardInfo:
    """What the reader learnt about the card: masked, never the full number."""

    scheme: str
    source: str
    masked_pan: str
    expiry_month: int
    expiry_year: int
    country_numeric: str
    aid: str
    application_name: str
    pan_sequence: str = "00"
    cardholder_name: str | None = None


class Transaction:
    """State of one transaction and the rules around it."""

    def __init__(self, identifier: str, params: Params, resource: str, tag: str,
                 created: float) -> None:
        self.identifier = identifier
        self.session_identifier = identifier[::-1]
        self.params = params
        self.resource = resource
        self.tag = tag
        self.created = created
        self.status = "PENDING"
        self.status_code = "PENDING_WAITING_FOR_EXECUTION"
        self.state = "IDLE"
        self.abortable = True
        self.abort_reason: str | None = None
        self.pending: PendingAction | None = None
        self.card: CardInfo | None = None
        self.verification = "NONE"
        self.signature_on_receipt = False
        self.account_type: str | None = None
        # set when an ABECS reader's charge went to the shared acquirer host
        self.acquirer_ref: str | None = None
        # a captured pre-authorisation's capture at the acquirer: what is refunded against
        # (the acquirer credits captured money, not the authorisation itself)
        self.capture_ref: str | None = None
        self.authorised = False
        self.authorization_code: str | None = None
        self.captured = False
        self.reversed = False
        self.refunded = 0
        self.refund_ids: list[str] = []
        self.tip_adjust_status = "NOT_ADJUSTABLE"
        self.referenced: str | None = params.reference
        self.completed_at: float | None = None

    # -- rules the POS's requests are checked against --------------------------------
    def request_abort(self) -> P3Error | None:
        """None = abort queued (§4.6: queued, not guaranteed); else the error to answer."""
        if self.is_final:
            return P3Error("TRANSACTION_INVALID", "the transaction has already ended")
        if not self.abortable:
            return P3Error(
                "TRANSACTION_NO_LONGER_ABORTABLE",
                f"state {self.state} cannot be aborted; wait for the final response",
            )
        self.abort_reason = self.abort_reason or "ABORTED_MERCHANT_ABORTED"
        return None

    def offer(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Block on an action; returns the EXECUTE_TRANSACTION_ACTION message to send."""
        self.pending = PendingAction(kind, payload)
        body: dict[str, Any] = {"action": kind}
        body.update(payload)
        body["transaction"] = self.brief()
        return envelope.unsolicited("EXECUTE_TRANSACTION_ACTION", self.tag, self.resource, body)

    def answer(self, request_type: str, body: dict[str, Any]) -> P3Error | None:
        """Check a SUBMIT_* request against the pending action (§7.2: wrong answer = error)."""
        if self.pending is None:
            return P3Error("TRANSACTION_ACTION_ERROR", "no action is waiting for an answer")
        expected = ANSWERS[self.pending.kind]
        if request_type != expected:
            return P3Error(
                "TRANSACTION_ACTION_ERROR",
                f"the pending action {self.pending.kind} is answered by {expected}",
            )
        if self.pending.kind == "APPLICATION_SELECTION":
            apps = self.pending.payload["applications"]
            offered = {a["applicationIdentifier"].upper() for a in apps}
            if body["applicationIdentifier"].upper() not in offered:
                return P3Error("PARAMETER_INVALID", "applicationIdentifier was not offered")
        return None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def finish(self, status: str, code: str, now: float) -> None:
        self.status = status
        self.status_code = code
        self.state = "ENDED"
        self.abortable = False
        self.pending = None
        self.completed_at = now

    # -- messages -----------------------------------------------------------------
    def brief(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "status": self.status, "state": self.state}

    def update(self, state: str, details: str, line1: str, line2: str = "") -> dict[str, Any]:
        """An EXECUTE_TRANSACTION_UPDATE with two 40-column lines (§5.3)."""
        body = {
            "abortable": self.abortable,
            "details": {
                "state": state,
                "stateDetails": details,
                "information": [line1[:40], line2[:40]],
            },
            "transaction": self.brief(),
        }
        return envelope.unsolicited("EXECUTE_TRANSACTION_UPDATE", self.tag, self.resource, body)

    def amount_line(self) -> str:
        p = self.params
        return display(p.amount or 0, p.currency or "EUR")

    def money(self, minor: int | None) -> Decimal | None:
        if minor is None or self.params.currency is None:
            return None
        return to_major(minor, self.params.currency)

    def to_json(self, receipts: tuple[dict[str, Any], dict[str, Any]] | None) -> dict[str, Any]:
        p = self.params
        doc: dict[str, Any] = {
            "identifier": self.identifier,
            "sessionIdentifier": self.session_identifier,
            "referencedTransactionIdentifier": self.referenced,
            "customIdentifier": p.custom_identifier,
            "type": p.type,
            "mode": p.mode,
            "amount": self.money(p.amount),
            "currency": p.currency,
            "subject": p.subject,
            "statementDescriptor": p.statement_descriptor,
            "status": self.status,
            "statusDetails": {"code": self.status_code},
            "state": self.state,
            "captured": self.captured,
            "details": {
                "applicationFee": self.money(p.application_fee),
                "includedTipAmount": self.money(p.included_tip),
                "metadata": p.metadata,
                "tipAdjustStatus": self.tip_adjust_status,
            },
        }
        if self.card is not None:
            c = self.card
            doc["paymentDetails"] = {
                "scheme": c.scheme,
                "source": c.source,
                "customerVerification": self.verification,
                "maskedAccountNumber": c.masked_pan,
            }
            doc["cardDetails"] = {
                "maskedCardNumber": c.masked_pan,
                "scheme": c.scheme,
                "expiryMonth": c.expiry_month,
                "expiryYear": c.expiry_year,
                "countryCodeNumeric": c.country_numeric,
            }
        doc["clearingDetails"] = {
            "authorizationCode": self.authorization_code,
            "transactionIdentifier": self.identifier,
            "originalTransactionIdentifier": self.referenced,
            "completed": self.captured or p.type == "REFUND",
        }
        if p.type == "CHARGE":
            refundable = (p.amount or 0) - self.refunded
            doc["refundDetails"] = {
                "status": "REFUNDED" if self.refunded and refundable <= 0 else
                ("REFUNDABLE_PARTIAL_AND_FULL" if self.status == "APPROVED" and refundable > 0
                 else "NON_REFUNDABLE"),
                "refundTransactions": list(self.refund_ids),
            }
        if receipts is not None:
            doc["merchantReceipt"], doc["customerReceipt"] = receipts
        return doc
