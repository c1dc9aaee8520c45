"""A Connect terminal (PDQ): its TID and currency, its card machine, its own journal.

One transaction or report at a time per terminal, whatever socket asks
(paymentsense-connect.md §7): :attr:`Terminal.busy_with` is that one. The journal is
the terminal's own record of what it finished, which the reports of §4.8 total; the
acquirer keeps the other set of books, and the two must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocol_servers.connect.card_machine import CardMachine


@dataclass
class JournalEntry:
    number: int
    type: str  # SALE, REFUND, PRE_AUTH, COMPLETION, ACCOUNT_VERIFICATION
    result: str  # SUCCESSFUL, DECLINED, VOID, ...
    amount_base: int
    amount_cashback: int
    scheme: str
    session: int
    result_json: dict[str, Any] = field(default_factory=dict)
    reference: str = ""  # the acquirer's reference (pre-auth -> completion)
    auth_code: str = ""
    masked_pan: str = ""


@dataclass
class Terminal:
    tid: str
    currency: str
    machine: CardMachine
    silent: bool  # the PDQ stops answering (restarted): §7's TIMED_OUT
    busy_with: Any = None
    journal: list[JournalEntry] = field(default_factory=list)
    session: int = 1  # banking session, closed by END_OF_DAY
    z_mark: int = 0  # journal length at the last Z (X and Z total since it)
    banking_mark: int = 0
    previous_session: list[JournalEntry] = field(default_factory=list)
    _numbers: int = 0

    @property
    def status(self) -> str:
        return "BUSY" if self.busy_with is not None else "AVAILABLE"

    def next_number(self) -> int:
        self._numbers += 1
        return self._numbers

    def last_transaction(self) -> JournalEntry | None:
        return self.journal[-1] if self.journal else None

    def record(self, entry: JournalEntry) -> None:
        self.journal.append(entry)


def totals(entries: list[JournalEntry], currency: str) -> dict[str, Any]:
    """A totalsBreakdown of §4.8 over successful sales, completions and refunds."""
    ok = [e for e in entries if e.result == "SUCCESSFUL"]
    sales = [e for e in ok if e.type in ("SALE", "COMPLETION")]
    refunds = [e for e in ok if e.type == "REFUND"]
    sales_amount = sum(e.amount_base + e.amount_cashback for e in sales)
    refunds_amount = sum(e.amount_base for e in refunds)
    return {"currency": currency, "totalAmount": sales_amount - refunds_amount,
            "totalSalesAmount": sales_amount, "totalSalesCount": len(sales),
            "totalRefundsAmount": refunds_amount, "totalRefundsCount": len(refunds)}


def balances(entries: list[JournalEntry], currency: str, since: str) -> dict[str, Any]:
    ok = [e for e in entries if e.result == "SUCCESSFUL"]
    cashback = [e for e in ok if e.amount_cashback and e.type == "SALE"]
    out = totals(entries, currency)
    out.update({
        "totalCashbackAmount": sum(e.amount_cashback for e in cashback),
        "totalCashbackCount": len(cashback),
        "totalGratuityAmount": 0, "totalGratuityCount": 0,
        "totalsSince": since,
        "issuerTotals": {s: totals([e for e in entries if e.scheme == s], currency)
                         for s in sorted({e.scheme for e in ok})},
        "waiterTotals": {},
    })
    return out
