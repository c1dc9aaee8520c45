"""Pay-At-Table (paymentsense-connect.md §5): the terminal asks, the EPoS answers.

A scripted waiter stands at a terminal: asked to (control API ``waiter``, or
:meth:`ConnectServer.start_waiter`), they ask the EPoS for its open tables, pick one,
lock it, print the bill, take the payment on the card machine, possibly split between
several cards (each a real card read, authorised by the acquirer), report the payments
with ``transactionResponse``, ask for the final receipt when the EPoS connected with
``final-pos-receipt-request``, and unlock the table.

The message names are those of the clone the note cites (§5 table, [CLONE]); how they
map to JSON-RPC is ours (§5: "[INFERRED]"): each is a request of the server with an
integer id; ``transactionResponse`` and ``tableUnlock`` accept an answer but do not
need one. A lock answer that comes after ``pat_answer_timeout`` is a failed lock (the
clone says so); if it confirms, the terminal unlocks the table again at once.

``errorMessage`` goes either way (§5 table). Ours is a notification (no answer wanted)
that the terminal sends when a waiter cannot serve a table: the terminal is busy, or the
lock answer came too late; its params are the error table's code and message with a
``userMessage`` for staff. One the EPoS sends is taken as a notification or a request
(answered with an empty result) and changes nothing: the waiter's own timeouts govern.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.connect import errors
from protocol_servers.connect.card_machine import CardFailure
from protocol_servers.connect.routing import method

if TYPE_CHECKING:
    from protocol_servers.connect.server import ConnectServer
    from protocol_servers.connect.session import Session
    from protocol_servers.connect.terminal import Terminal

Gen = Generator[simpy.Event, Any, Any]


@dataclass
class WaiterPlan:
    """What the waiter does: which table (None: the first offered), how to split the
    bill (``parts`` equal parts, or explicit ``amounts``), the cards the diners hold."""

    table: str | None = None
    parts: int = 1
    amounts: list[int] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)
    print_bill: bool = True

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WaiterPlan:
        known = {"table", "parts", "amounts", "cards", "print_bill"}
        unknown = set(raw) - known - {"tid"}
        if unknown:
            raise ValueError(f"unknown waiter choices {sorted(unknown)}; known {sorted(known)}")
        plan = cls(raw.get("table"), int(raw.get("parts", 1)),
                   [int(a) for a in raw.get("amounts", [])], list(raw.get("cards", [])),
                   bool(raw.get("print_bill", True)))
        if plan.parts < 1:
            raise ValueError("parts must be at least 1")
        return plan

    def split(self, amount: int) -> list[int]:
        if self.amounts:
            return list(self.amounts)
        base, extra = divmod(amount, self.parts)
        return [base + (1 if i < extra else 0) for i in range(self.parts)]


@dataclass
class PatOutcome:
    """What one waiter did: the table chosen, the bill locked, how it was split, each
    payment's outcome (masked PANs only) and the steps in order. ``finished`` turns
    True when the waiter is done; the control API's ``waiter_result`` shows it."""

    number: int  # the server numbers its waiters from 1 (the control API's ``number``)
    tid: str
    table: str | None = None
    locked: bool = False
    amount: int | None = None  # the bill the lock confirmed
    splits: list[int] = field(default_factory=list)  # the parts the waiter charged
    payments: list[dict[str, Any]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "tid": self.tid, "finished": self.finished,
                "table": self.table, "locked": self.locked, "amount": self.amount,
                "splits": list(self.splits), "payments": [dict(p) for p in self.payments],
                "steps": list(self.steps)}


class Waiter:
    def __init__(self, server: ConnectServer, term: Terminal, plan: WaiterPlan,
                 number: int) -> None:
        self.server, self.term, self.plan = server, term, plan
        self.world = server.world
        self.outcome = PatOutcome(number, term.tid)

    def _ask(self, session: Session, method: str, params: dict[str, Any]) -> Gen:
        """Ask the EPoS; the answer's result, or None when it is late, wrong or absent."""
        rid, answer = session.ask(method, params)
        limit = self.server.timings["pat_answer_timeout"]
        yield self.world.any_of([answer, self.world.timeout(limit)])
        self.outcome.steps.append(method)
        if not answer.triggered:
            if rid is not None:
                session.forget(rid)
            return None
        rsp = answer.value
        if rsp is None or rsp.error is not None:
            return None
        return rsp.result

    def run(self) -> Gen:
        try:
            return (yield from self._serve())
        finally:
            self.outcome.finished = True

    def _serve(self) -> Gen:
        session = self.server.pat
        if session is None or not session.open:
            self.outcome.steps.append("no Pay-At-Table EPoS connected")
            return self.outcome
        if self.term.busy_with is not None:
            self.outcome.steps.append("terminal busy")
            session.notify("errorMessage", errors.error_message(
                errors.TERMINAL_BUSY, f"The card machine {self.term.tid} is busy with another "
                "payment: try the table again when it is free.", tid=self.term.tid))
            return self.outcome
        self.term.busy_with = self
        try:
            yield from self._run(session)
        finally:
            self.term.busy_with = None
        return self.outcome

    def _run(self, session: Session) -> Gen:
        tid = self.term.tid
        listing = yield from self._ask(session, "tableListRequest", {"tid": tid})
        tables = _table_ids(listing)
        if not tables:
            self.outcome.steps.append("no open tables")
            return
        yield self.world.timeout(self.server.timings["waiter_pick"])
        table = self.plan.table if self.plan.table in tables else tables[0]
        self.outcome.table = table
        where = {"tid": tid, "tableId": table}
        rid, answer = session.ask("tableLockRequest", where)
        limit = self.server.timings["pat_answer_timeout"]
        yield self.world.any_of([answer, self.world.timeout(limit)])
        self.outcome.steps.append("tableLockRequest")
        if not answer.triggered:
            session.conduct.unanswered("tableLockRequest", rid)
            self.world.process(self._late_lock(session, answer, where))
            self.outcome.steps.append("lock answer late: lock failed")
            session.notify("errorMessage", errors.error_message(
                errors.TERMINAL_UNAVAILABLE, f"Table {table} could not be locked in time: "
                "the till did not answer.", tid=tid, tableId=table))
            return
        lock = answer.value.result if answer.value is not None else None
        if not (isinstance(lock, dict) and lock.get("confirmed") is True
                and isinstance(lock.get("amount"), int)):
            self.outcome.steps.append("lock refused")
            return
        self.outcome.locked = True
        amount, currency = int(lock["amount"]), str(lock.get("currency", self.term.currency))
        self.outcome.amount = amount
        if self.plan.print_bill:
            yield from self._ask(session, "posReceiptRequest", where)
        paid = 0
        for i, part in enumerate(self.plan.split(amount)):
            part = min(part, amount - paid)
            if part <= 0:
                break
            if i:
                yield self.world.timeout(self.server.timings["waiter_between_payments"])
            self.outcome.splits.append(part)
            payment = yield from self._pay(part, currency, i)
            self.outcome.payments.append(payment)
            if payment["transactionResult"] == "SUCCESSFUL":
                paid += part
        report = {**where, "currency": currency, "amountTotal": paid,
                  "amountOutstanding": amount - paid, "payments": self.outcome.payments}
        yield from self._ask(session, "transactionResponse", report)
        if session.accepted.final_receipt:
            yield from self._ask(session, "finalPOSReceiptRequest", where)
        yield from self._ask(session, "tableUnlock", where)

    def _late_lock(self, session: Session, answer: simpy.Event, where: dict[str, Any]) -> Gen:
        yield answer
        rsp = answer.value
        if rsp is not None and isinstance(rsp.result, dict) and rsp.result.get("confirmed"):
            session.ask("tableUnlock", where)  # the lock came too late: give the table back

    def _pay(self, amount: int, currency: str, index: int) -> Gen:
        """One diner pays ``amount`` on the card machine (signature checked by the waiter)."""
        m = self.term.machine
        if self.plan.cards:
            m.choose_card(self.plan.cards[index % len(self.plan.cards)])
        m.on_event = None
        key = f"{self.term.tid}-{self.server.next_transaction()}"
        payment: dict[str, Any] = {"paymentId": key, "amountPaid": amount, "currency": currency,
                                   "amountCashback": 0, "amountGratuity": 0}
        try:
            yield from m.prepare()
            card = yield from m.read_card(amount)
            auth = yield from m.authorise(card, "sale", amount, 0, currency, key)
            yield from m.remove_card(auth.approved)
            payment.update({"transactionResult": "SUCCESSFUL" if auth.approved else "DECLINED",
                            "authCode": auth.auth_code, "cardSchemeName": card.scheme,
                            "paymentMethod": card.method,
                            "primaryAccountNumber": card.masked})
        except CardFailure as fail:
            yield from m.remove_card(False)
            payment.update({"transactionResult": "UNSUCCESSFUL", "authCode": "",
                            "userMessage": fail.detail or fail.kind})
        payment["time"] = clock(self.term)
        if payment["transactionResult"] != "SUCCESSFUL":
            payment["amountPaid"] = 0
        return payment


@method("pat", "errorMessage", allowed=("code", "message", "userMessage", "tid", "tableId"))
def _epos_error(session: Session, request: Any) -> dict[str, Any]:
    """An EPoS's ``errorMessage`` sent as a request: noted and answered empty."""
    session.world.transcript.event(session.end.name,
                                   f"EPoS errorMessage: {str(request.params)[:200]}")
    return {}


def _table_ids(listing: Any) -> list[str]:
    """Tables as the EPoS lists them: a bare array, or ``{"tables": [...]}``, of ids or
    of objects with ``tableId`` (the clone says "array of table ids")."""
    items = listing.get("tables") if isinstance(listing, dict) else listing
    if not isinstance(items, list):
        return []
    out: list[str] = []
    for item in items:
        if isinstance(item, str | int) and not isinstance(item, bool):
            out.append(str(item))
        elif isinstance(item, dict) and isinstance(item.get("tableId"), str | int):
            out.append(str(item["tableId"]))
    return out


from protocol_servers.connect.pac import clock  # noqa: E402
