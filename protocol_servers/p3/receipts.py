"""Merchant and customer receipts in the P3 shape of payworks-p3.md §5.4.

Each receipt has ``data`` keyed by SDK ``ReceiptLineItemKey`` with ``{key, label, value}``
entries, the three lists ``merchantDetails`` / ``paymentDetails`` / ``clearingDetails``
and the ``tipLineRequired`` / ``signatureLineRequired`` flags beside it (§5.4 [INF]), and
pre-formatted ``lines``. Receipts exist only when the transaction did not fail (§4.4).
Times come from the world's clock (``epoch`` + simulated seconds), so they replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from protocol_servers.p3.money import to_major
from protocol_servers.p3.transaction import Transaction

TYPE_TEXT = {"CHARGE": "Payment", "REFUND": "Refund", "CAPTURE": "Capture",
             "TIP_ADJUST": "Tip adjustment"}
STATUS_TEXT = {"APPROVED": "Approved", "DECLINED": "Declined", "ABORTED": "Aborted",
               "ACCEPTED": "Accepted"}
LINE_WIDTH = 40


@dataclass(frozen=True)
class Merchant:
    public_name: str = "cardloop Test Shop"
    address: str = "1 Test Street"
    zip: str = "10115"
    city: str = "Berlin"
    country: str = "Germany"
    merchant_id: str = "MOCKMERCHANT01"
    terminal_id: str = "MOCK0001"


def _item(key: str, label: str, value: str) -> dict[str, str]:
    return {"key": key, "label": label, "value": value}


def build(tx: Transaction, merchant: Merchant, epoch: datetime, now: float
          ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Both receipts, or None for a failed (ERROR/INCONCLUSIVE) transaction."""
    if tx.status in ("ERROR", "INCONCLUSIVE", "PENDING"):
        return None
    return _one(tx, merchant, epoch, now, True), _one(tx, merchant, epoch, now, False)


def _one(tx: Transaction, merchant: Merchant, epoch: datetime, now: float, for_merchant: bool
         ) -> dict[str, Any]:
    p = tx.params
    when = (epoch + timedelta(seconds=tx.completed_at if tx.completed_at is not None else now)
            ).astimezone(UTC)
    amount = "" if p.amount is None or p.currency is None else (
        f"{to_major(p.amount, p.currency)} {p.currency}")
    data = {
        "RECEIPT_TYPE": _item("RECEIPT_TYPE", "Receipt Type",
                              "Merchant Receipt" if for_merchant else "Customer Receipt"),
        "TRANSACTION_TYPE": _item("TRANSACTION_TYPE", "Type", TYPE_TEXT.get(p.type, p.type)),
        "AMOUNT_AND_CURRENCY": _item("AMOUNT_AND_CURRENCY", "Amount", amount),
        "STATUS_TEXT": _item("STATUS_TEXT", "Status", STATUS_TEXT.get(tx.status, tx.status)),
        "DATE": _item("DATE", "Date", when.strftime("%d.%m.%Y")),
        "TIME": _item("TIME", "Time", when.strftime("%H:%M:%S")),
        "IDENTIFIER": _item("IDENTIFIER", "Transaction", tx.identifier),
    }
    if p.subject:
        data["SUBJECT"] = _item("SUBJECT", "Description", p.subject)
    if p.included_tip and p.currency:
        data["INCLUDED_TIP_AMOUNT_AND_CURRENCY"] = _item(
            "INCLUDED_TIP_AMOUNT_AND_CURRENCY", "Tip",
            f"{to_major(p.included_tip, p.currency)} {p.currency}")
    merchant_details = [
        _item("MERCHANT_DETAILS_PUBLIC_NAME", "Merchant", merchant.public_name),
        _item("MERCHANT_DETAILS_ADDRESS", "Address", merchant.address),
        _item("MERCHANT_DETAILS_ZIP", "Zip", merchant.zip),
        _item("MERCHANT_DETAILS_CITY", "City", merchant.city),
        _item("MERCHANT_DETAILS_COUNTRY", "Country", merchant.country),
    ]
    payment_details: list[dict[str, str]] = []
    if tx.card is not None:
        c = tx.card
        payment_details = [
            _item("PAYMENT_DETAILS_SCHEME_OR_LABEL", "Card", c.application_name),
            _item("PAYMENT_DETAILS_MASKED_ACCOUNT", "Account", c.masked_pan),
            _item("PAYMENT_DETAILS_SOURCE", "Entry", c.source),
            _item("PAYMENT_DETAILS_EMV_APPLICATION_ID", "AID", c.aid),
            _item("PAYMENT_DETAILS_ACCOUNT_SEQUENCE_NUMBER", "PAN Seq.", c.pan_sequence),
            _item("PAYMENT_DETAILS_CUSTOMER_VERIFICATION", "Verification", tx.verification),
        ]
    clearing = [
        _item("CLEARING_DETAILS_TRANSACTION_IDENTIFIER", "TX ID", tx.identifier),
        _item("CLEARING_DETAILS_MERCHANT_IDENTIFIER", "MID", merchant.merchant_id),
        _item("CLEARING_DETAILS_TERMINAL_ID", "TID", merchant.terminal_id),
    ]
    if tx.authorization_code:
        clearing.append(_item("CLEARING_DETAILS_AUTHORIZATION_CODE", "Auth. code",
                              tx.authorization_code))
    if tx.referenced:
        clearing.append(_item("CLEARING_DETAILS_ORIGINAL_TRANSACTION_IDENTIFIER", "Original TX",
                              tx.referenced))
    # a signature on paper needs a line on the merchant copy (§7.2 option B)
    signature_line = for_merchant and tx.status == "APPROVED" and tx.signature_on_receipt
    tip_line = False
    lines = [_center(merchant.public_name), _center(merchant.address),
             _center(f"{merchant.zip} {merchant.city}"), ""]
    for item in (*data.values(), *payment_details, *clearing):
        lines.append(_pair(item["label"], item["value"]))
    if signature_line:
        lines += ["", "", "-" * LINE_WIDTH, _center("Cardholder signature")]
    return {
        "receiptType": "MERCHANT" if for_merchant else "CUSTOMER",
        "data": data,
        "merchantDetails": merchant_details,
        "paymentDetails": payment_details,
        "clearingDetails": clearing,
        "tipLineRequired": tip_line,
        "signatureLineRequired": bool(signature_line),
        "lines": lines,
    }


def _center(text: str) -> str:
    return text[:LINE_WIDTH].center(LINE_WIDTH).rstrip()


def _pair(label: str, value: str) -> str:
    room = LINE_WIDTH - len(label) - 1
    value = value[-room:] if len(value) > room else value
    return f"{label} {value.rjust(room)}"
