"""Receipt lines (paymentsense-connect.md §4.3): ``{"type", "format", "value"}`` objects.

The PDQ prints a merchant and a customer copy; the merchant copy of a signature sale
has the line to sign. Only the masked PAN is printed (§4.3 ``************1234``).
"""

from __future__ import annotations

from typing import Any

SHOP = "cardloop test shop"


def line(value: str, kind: str = "TEXT", *fmt: str) -> dict[str, Any]:
    return {"type": kind, "format": list(fmt), "value": value}


def money(amount: int, currency: str) -> str:
    sign = {"GBP": "£", "EUR": "€"}.get(currency, currency + " ")
    return f"{sign}{amount // 100}.{amount % 100:02d}"


def copy(who: str, tx: dict[str, Any], signature: bool = False) -> list[dict[str, Any]]:
    cur = tx.get("currency", "GBP")
    out = [line(SHOP, "TEXT", "BOLD", "DOUBLE_HEIGHT"),
           line(f"TID {tx.get('tid') or tx.get('tpi', '')}"),
           line(tx.get("transactionType", ""), "TEXT", "BOLD"),
           line(f"{tx.get('cardSchemeName', '')} {tx.get('primaryAccountNumber', '')}"),
           *([line("KEYED")] if tx.get("paymentMethod") == "KEYED" else []),
           line(f"AMOUNT {money(int(tx.get('amountTotal', 0)), cur)}", "TEXT", "BOLD"),
           line(tx.get("transactionResult", ""), "TEXT", "BOLD")]
    if tx.get("authCode"):
        out.append(line(f"AUTH CODE {tx['authCode']}"))
    if signature:
        out += [line("", "CARRIAGE_RETURN"), line("PLEASE SIGN BELOW"),
                line("", "LINE_SEPARATOR_SINGLE")]
    if tx.get("transactionResult") == "DECLINED":
        out.append(line("DECLINED", "BOX_DECLINE"))
    if tx.get("transactionResult") == "VOID":
        out.append(line("VOID", "BOX_VOID"))
    out += [line(f"{who} COPY"), line("", "TICKET_FEED")]
    return out


def both(tx: dict[str, Any], signature: bool = False) -> dict[str, list[dict[str, Any]]]:
    return {"MERCHANT": copy("MERCHANT", tx, signature), "CUSTOMER": copy("CUSTOMER", tx)}
