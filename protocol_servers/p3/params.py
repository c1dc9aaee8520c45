"""``transactionParameters`` -> :class:`Params`, with the cross-field rules the schema
cannot say (payworks-p3.md §4.4, §7.7, §7.8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from protocol_servers.p3.errors import P3Error
from protocol_servers.p3.money import AmountError, to_minor
from protocol_servers.p3.transaction import Params


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):  # "true"/"false" from form inputs (§12.4); schema checked
        return value == "true"
    return bool(value)


def _minor(body: dict[str, Any], key: str, currency: str | None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if currency is None:
        raise P3Error("PARAMETER_MISSING", f"transactionParameters/{key} needs a currency")
    try:
        return to_minor(Decimal(str(value)) if isinstance(value, str) else value, currency)
    except AmountError as exc:
        raise P3Error("PARAMETER_INVALID", f"transactionParameters/{key}: {exc}") from None


def parse(request_body: dict[str, Any]) -> Params:
    body = request_body["transactionParameters"]
    kind = body["type"]
    currency = body.get("currency")
    reference = body.get("referencedTransactionIdentifier") or None
    if currency is not None:
        try:
            to_minor(0, currency)
        except AmountError as exc:
            raise P3Error("PARAMETER_INVALID", f"transactionParameters/currency: {exc}") from None
    amount = _minor(body, "amount", currency)
    if kind in ("CAPTURE", "TIP_ADJUST") and reference is None:
        raise P3Error("PARAMETER_MISSING",
                      f"transactionParameters/referencedTransactionIdentifier is needed for {kind}")
    if kind in ("CHARGE", "TIP_ADJUST") or (kind == "REFUND" and reference is None):
        if amount is None:
            raise P3Error("PARAMETER_MISSING", f"transactionParameters/amount is needed for {kind}")
    if amount is not None and amount <= 0:
        raise P3Error("PARAMETER_INVALID", "transactionParameters/amount must be above zero")
    if kind == "CHARGE" and reference is not None:
        raise P3Error("PARAMETER_INVALID",
                      "a CHARGE takes no referencedTransactionIdentifier")
    fee = _minor(body, "applicationFee", currency)
    tip = _minor(body, "includedTipAmount", currency)
    if tip is not None and amount is not None and tip > amount:
        raise P3Error("PARAMETER_INVALID", "includedTipAmount is part of amount and exceeds it")
    for name, value in (("applicationFee", fee), ("includedTipAmount", tip)):
        if value is not None and value < 0:
            raise P3Error("PARAMETER_INVALID", f"transactionParameters/{name} must not be negative")
    if fee is not None and amount is not None and fee > amount:
        # the platform's fee is taken out of the amount (payworks-p3.md §4.4): it cannot
        # exceed it. Refused here, before the charge, never while answering after it.
        raise P3Error("PARAMETER_INVALID", "applicationFee exceeds the amount it is part of")
    metadata = {str(k): v for k, v in (body.get("metadata") or {}).items()}
    return Params(
        type=kind, amount=amount, currency=currency,
        auto_capture=_flag(body.get("autoCapture"), True),
        subject=body.get("subject"), custom_identifier=body.get("customIdentifier"),
        statement_descriptor=body.get("statementDescriptor"), application_fee=fee,
        included_tip=tip, metadata=metadata, reference=reference,
        mode=request_body.get("mode") or "ONLINE",
    )
