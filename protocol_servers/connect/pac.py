"""Pay-At-Counter (paymentsense-connect.md §4): the EPoS asks, the terminal does.

Handlers for the EPoS's requests are registered with :func:`routing.method`; a
transaction is a :class:`PacTransaction` process on the terminal that reads a virtual
card through the card machine and tells the socket that started it what happens, as
``terminalNotification``s in the order things happen (§4.4), then answers the request
with the transaction object of §4.3.

Choices where the note is silent, made as a real PDQ would:

* cancel is possible until authorisation starts (CONNECTING); afterwards the terminal
  says UNABLE_TO_CANCEL and goes on (§4.6, "allow until authorising");
* a declined signature reverses the approval at the acquirer: result VOID (§4.7);
* a PDQ silent for 200 s ends TIMED_OUT (§7); if it later finishes an approved payment,
  the terminal reverses it, so the books hold what the EPoS was told;
* reports send no notifications (REPORT_STARTED/FINISHED are REST values, outside the
  WebSocket enum of §4.4);
* ``cardholderNotPresent`` (sales and refunds, §4.3) keys the card on the PDQ's keypad
  (ABECS GCD): number, expiry month and year, and for a payment the security code; the
  acquirer checks them (no cryptogram) and the result says ``paymentMethod`` KEYED and
  ``cardHolderVerificationMethod`` NONE. The operator may also key a card on any
  transaction from the present-card screen (the control API's ``entry: keyed``);
* ``completion`` finds the pre-authorisation by ``authCode`` in the terminal's journal
  and needs the same card presented (§4.3: "pre-auth and completion must use the same
  card").
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.connect import errors, receipts
from protocol_servers.connect.card_machine import Authorisation, CardFailure, CardRead
from protocol_servers.connect.notifications import FROM_EVENT
from protocol_servers.connect.routing import LATER, method
from protocol_servers.connect.terminal import JournalEntry, Terminal, balances, totals

if TYPE_CHECKING:
    from protocol_servers.connect.jsonrpc import Request
    from protocol_servers.connect.session import Session

Gen = Generator[simpy.Event, Any, Any]
TX_PARAMS = ("tid", "currency", "amount", "amountCashback", "cardholderNotPresent",
             "authCode", "amountPreAuthorisedTotal")
V0_TX_PARAMS = ("tpi", "currency", "amount")
TYPES = {"sale": "SALE", "refund": "REFUND", "preAuth": "PRE_AUTH",
         "completion": "COMPLETION", "accountVerification": "ACCOUNT_VERIFICATION"}
CANCELLABLE = ("start", "card", "pin")


# -- terminal lookups ---------------------------------------------------------------------
def _tid_key(session: Session) -> str:
    return "tid" if session.version == "v1" else "tpi"


def _terminal(session: Session, params: dict[str, Any]) -> Terminal:
    key = _tid_key(session)
    tid = params.get(key)
    if not isinstance(tid, str) or not tid:
        raise errors.bad_params(f"{key} is required (a string)")
    term = session.server.terminals.get(tid)
    if term is None:
        raise errors.unavailable(tid)
    return term


def terminal_object(session: Session, term: Terminal) -> dict[str, Any]:
    if session.version == "v1":
        return {"tid": term.tid, "status": term.status, "currency": term.currency}
    return {"tpi": term.tid, "status": term.status, "currency": term.currency,
            "capabilities": ["SALE", "REFUND", "DUPLICATE", "CANCEL_TRANSACTION",
                             "REPORT_END_OF_DAY", "REPORT_BANKING", "REPORT_X_BALANCE",
                             "REPORT_Z_BALANCE", "TERMINAL_STATUS"]}


# -- listing ------------------------------------------------------------------------------
@method("pac", "connectedTerminals", allowed=("currency",))
def connected_terminals(session: Session, req: Request) -> Any:
    wanted = (req.params or {}).get("currency")
    items = [terminal_object(session, t) for t in session.server.terminals.values()
             if wanted is None or t.currency == wanted]
    return {"terminals": items} if session.server.config.wrapped_terminals else items


@method("pac", "terminalDetails", versions=("v1",), allowed=("tid",))
def terminal_details(session: Session, req: Request) -> Any:
    return terminal_object(session, _terminal(session, req.params or {}))


@method("pac", "terminalsDetails", versions=("v0",), allowed=("tpis",))
def terminals_details(session: Session, req: Request) -> Any:
    tpis = (req.params or {}).get("tpis")
    if not isinstance(tpis, list) or not all(isinstance(t, str) for t in tpis):
        raise errors.bad_params("tpis is required (a list of terminal ids)")
    out = []
    for tpi in tpis:
        term = session.server.terminals.get(tpi)
        if term is None:
            raise errors.unavailable(tpi)
        out.append(terminal_object(session, term))
    return out


# -- transactions ---------------------------------------------------------------------------
def _int(params: dict[str, Any], name: str, low: int, high: int, tid: str,
         required: bool = True) -> int:
    value = params.get(name)
    if value is None and not required:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise errors.bad_params(f"{name} must be an integer from {low} to {high} (pence)", tid)
    return value


def _start(session: Session, req: Request) -> Any:
    params = req.params or {}
    term = _terminal(session, params)
    tid = term.tid
    kind = req.method
    currency = params.get("currency")
    if currency not in ("GBP", "EUR"):
        raise errors.bad_params("currency must be GBP or EUR", tid)
    if currency != term.currency:
        raise errors.bad_params(f"terminal {tid} takes {term.currency}, not {currency}", tid)
    low = 0 if kind == "accountVerification" else 1
    amount = _int(params, "amount", low, 99999999, tid)
    cashback = _int(params, "amountCashback", 0, 10000, tid, required=False)
    if cashback and kind != "sale":
        raise errors.bad_params("amountCashback is for sales only", tid)
    cnp = params.get("cardholderNotPresent", False)
    if not isinstance(cnp, bool) or (cnp and kind not in ("sale", "refund")):
        raise errors.bad_params("cardholderNotPresent is a boolean, for sales and refunds", tid)
    auth_code = params.get("authCode")
    if kind == "completion" and (not isinstance(auth_code, str) or not auth_code):
        raise errors.bad_params("completion needs the authCode of the pre-authorisation", tid)
    if "amountPreAuthorisedTotal" in params:
        _int(params, "amountPreAuthorisedTotal", 1, 99999999, tid)
    if term.busy_with is not None and session.server.config.busy_rule:
        raise errors.busy(tid)
    tx = PacTransaction(session, req, term, kind, amount, cashback, currency,
                        auth_code if isinstance(auth_code, str) else "", cnp)
    term.busy_with = tx
    tx.start()
    return LATER


for _name in TYPES:
    method("pac", _name, versions=("v1",), allowed=TX_PARAMS)(_start)
for _name in ("sale", "refund"):
    method("pac", _name, versions=("v0",), allowed=V0_TX_PARAMS)(_start)


@method("pac", "cancelTransaction", allowed=("tid", "tpi"))
def cancel_transaction(session: Session, req: Request) -> Any:
    term = _terminal(session, req.params or {})
    tx = term.busy_with
    if not isinstance(tx, PacTransaction) or tx.finished:
        raise errors.error(errors.UNABLE_TO_CANCEL,
                           f"no transaction is running on {term.tid}", tid=term.tid)
    accepted = tx.request_cancel()
    if session.version == "v1":
        return {"cancelling": True}
    return {"cancelled": accepted}


@method("pac", "duplicate", allowed=("tid", "tpi", "currency"))
def duplicate(session: Session, req: Request) -> Any:
    term = _terminal(session, req.params or {})
    if term.busy_with is not None and session.server.config.busy_rule:
        raise errors.busy(term.tid)
    last = term.last_transaction()
    if last is None:
        raise errors.error(errors.TERMINAL_UNAVAILABLE,
                           f"no data available for terminal {term.tid}: nothing to duplicate",
                           tid=term.tid)
    return dict(last.result_json)


# -- reports ------------------------------------------------------------------------------
REPORTS = {"reportXBalance": "X_BALANCE", "reportZBalance": "Z_BALANCE",
           "reportBanking": "BANKING", "reportEndOfDay": "END_OF_DAY"}


def _report(session: Session, req: Request) -> Any:
    term = _terminal(session, req.params or {})
    if term.busy_with is not None and session.server.config.busy_rule:
        raise errors.busy(term.tid)
    report = Report(session, req, term, REPORTS[req.method])
    term.busy_with = report
    session.world.process(report.run())
    return LATER


for _name in REPORTS:
    method("pac", _name, allowed=("tid", "tpi"))(_report)


class Report:
    def __init__(self, session: Session, req: Request, term: Terminal, kind: str) -> None:
        self.session, self.req, self.term, self.kind = session, req, term, kind

    def run(self) -> Gen:
        s, term = self.session, self.term
        try:
            yield s.world.timeout(s.server.timings["report_print"])
            since = term.journal[term.z_mark:]
            result: dict[str, Any] = {
                "reportType": self.kind, "reportResult": "COMPLETE",
                "reportTime": clock(term), _tid_key(s): term.tid}
            if self.kind in ("X_BALANCE", "Z_BALANCE", "END_OF_DAY"):
                result["balances"] = balances(since, term.currency,
                                              "LAST_Z_REPORT" if term.z_mark else "INSTALLATION")
            if self.kind in ("BANKING", "END_OF_DAY"):
                current = term.journal[term.banking_mark:]
                result["banking"] = {"cardloop acquirer": {
                    "currency": term.currency,
                    "currentSessionTotals": totals(current, term.currency),
                    "previousSessionTotals": totals(term.previous_session, term.currency),
                    "currentSessionIssuerTotals": {},
                    "previousSessionIssuerTotals": {},
                    "currentSessionTransactionNumbers": _range(current),
                    "previousSessionTransactionNumbers": _range(term.previous_session),
                }}
            if self.kind in ("Z_BALANCE", "END_OF_DAY"):
                term.z_mark = len(term.journal)
            if self.kind in ("BANKING", "END_OF_DAY"):
                term.previous_session = term.journal[term.banking_mark:]
                term.banking_mark = len(term.journal)
                term.session += 1
            lines = [receipts.line(f"{self.kind.replace('_', ' ')} REPORT", "TEXT", "BOLD"),
                     receipts.line(f"TID {term.tid}")]
            if "balances" in result:
                b = result["balances"]

                def money(key: str) -> str:
                    return receipts.money(b[key], term.currency)

                lines += [receipts.line(f"SALES {b['totalSalesCount']} "
                                        f"{money('totalSalesAmount')}"),
                          receipts.line(f"REFUNDS {b['totalRefundsCount']} "
                                        f"{money('totalRefundsAmount')}"),
                          receipts.line(f"TOTAL {money('totalAmount')}", "TEXT", "BOLD")]
            result["reportLines"] = lines
            s.answer(self.req, result)
        finally:
            term.busy_with = None


def _range(entries: list[JournalEntry]) -> list[str]:
    if not entries:
        return ["", ""]
    return [f"{entries[0].number:04d}", f"{entries[-1].number:04d}"]


def clock(term: Terminal) -> str:
    """The PDQ's own clock, §4.3's ``YYYY-MM-DDThh:mm:ss``: the one its card reader is given
    (the date and time of GCR and GOC, the card's transaction date), so a result's time
    and the transaction date the card and the acquirer saw are the same."""
    return term.machine.app.now().strftime("%Y-%m-%dT%H:%M:%S")


# -- one transaction on one terminal -----------------------------------------------------------
class PacTransaction:
    """A sale, refund, pre-auth, completion or account verification on one terminal."""

    def __init__(self, session: Session, req: Request, term: Terminal, kind: str, amount: int,
                 cashback: int, currency: str, auth_code: str, cnp: bool = False) -> None:
        self.session = session
        self.world = session.world
        self.server = session.server
        self.req = req
        self.term = term
        self.kind = kind
        self.amount = amount
        self.cashback = cashback
        self.currency = currency
        self.auth_code = auth_code
        self.cnp = cnp  # cardholderNotPresent: the card is keyed on the PDQ (§4.3)
        self.phase = "start"
        self.finished = False
        self.cancel_wanted = False
        self.last_activity = self.world.now
        self.number = term.next_number()
        self.transaction_id = f"{term.tid}-{self.server.next_transaction()}"
        self.card: CardRead | None = None
        self.auth: Authorisation | None = None
        self.user_message = ""
        self.sent: list[str] = []

    # -- talking to the EPoS that started it ------------------------------------------------
    def notify(self, value: str) -> None:
        self.last_activity = self.world.now
        if self.finished and not self.server.config.notify_after_result:
            return
        self.sent.append(value)
        self.session.terminal_notification(self.term.tid, value)

    def on_event(self, name: str, **info: Any) -> None:
        self.last_activity = self.world.now
        if name == "connecting":
            self.phase = "authorising"
        value = FROM_EVENT.get(name)
        # a screen shown twice in a row (a PIN typed again, a swipe after a mute chip)
        # is one state of the terminal: the EPoS hears it once
        if value is not None and self.sent[-1:] != [value]:
            self.notify(value)

    def request_cancel(self) -> bool:
        """The EPoS asked to cancel; True when the terminal can still stop."""
        if self.session.version == "v1":
            self.notify("ATTEMPTING_CANCEL")
        if self.phase not in CANCELLABLE:
            if self.session.version == "v1":
                self.notify("UNABLE_TO_CANCEL")
            return False
        if not self.cancel_wanted:
            self.cancel_wanted = True
            if self.session.version == "v1":
                self.notify("CANCELLING")
            self.world.process(self.term.machine.cancel())
        return True

    # -- the run ---------------------------------------------------------------------------
    def start(self) -> None:
        self.world.process(self.run())

    def run(self) -> Gen:
        machine = self.term.machine
        machine.on_event = self.on_event
        self.notify("TRANSACTION_STARTED")
        work = self.world.process(self._silent() if self.term.silent else self._work())
        limit = self.server.timings["silent_terminal_timeout"]
        outcome: tuple[str, str] | None = None
        while outcome is None:
            left = self.last_activity + limit - self.world.now
            yield self.world.any_of([work, self.world.timeout(max(left, 0.0))])
            if work.triggered:
                outcome = work.value
            elif self.world.now - self.last_activity >= limit:
                outcome = ("TIMED_OUT", "The card machine did not answer; check it before "
                           "trying again")
                self.world.process(self._after_timeout(work))
        self._finish(*outcome)
        if work.triggered or self.term.silent:
            self.term.busy_with = None

    def _silent(self) -> Gen:
        """The PDQ restarted: nothing more is heard from it."""
        try:
            yield self.world.event()
        except simpy.Interrupt:
            return "TIMED_OUT", ""

    def _after_timeout(self, work: simpy.Process) -> Gen:
        """A late finish is not reflected (§7): an approval it made is taken back."""
        if self.term.silent:
            work.interrupt("restarted")
            return
        yield work
        if self.auth is not None and self.auth.approved:
            self.term.machine.reverse(self.auth.reference)
        self.term.busy_with = None

    def _work(self) -> Gen:
        machine = self.term.machine
        try:
            self.phase = "start"
            yield from machine.prepare()
            if self.cancel_wanted:
                raise CardFailure("cancelled")
            self.phase = "card"
            if not self.cnp:
                self.notify("PRESENT_CARD")
            if self.cnp or machine.entry == "keyed":
                # cardholderNotPresent goes straight to key entry (§4.3); otherwise the
                # operator chose it from the menu of the present-card screen (§11).
                # A payment asks the security code; a credit or a completion does not.
                self.card = yield from machine.key_card(
                    security_code=self.kind in ("sale", "preAuth", "accountVerification"))
            else:
                self.card = yield from machine.read_card(self.amount + self.cashback)
            if self.cancel_wanted:
                raise CardFailure("cancelled")
            self.phase = "pin"
            key = self.transaction_id
            if self.kind == "refund":
                self.phase = "authorising"
                self.auth = yield from machine.credit(self.card, self.amount, self.currency, key)
            elif self.kind == "completion":
                self.phase = "authorising"
                self.auth = yield from self._completion(key)
            else:
                acq_kind = {"sale": "sale", "preAuth": "preauth",
                            "accountVerification": "authorisation"}[self.kind]
                self.auth = yield from machine.authorise(
                    self.card, acq_kind, self.amount + self.cashback, self.cashback,
                    self.currency, key, proceed=lambda: not self.cancel_wanted)
            result = "SUCCESSFUL" if self.auth.approved else "DECLINED"
            if self.auth.approved and self.auth.cvm == "SIGNATURE":
                result = yield from self._signature()
            if result == "SUCCESSFUL":
                self.notify("APPROVED")
            elif result == "DECLINED":
                self.notify("DECLINED_BY_CARD" if self.auth.outcome == "DECLINED_BY_CARD"
                            else "PROCESSING_ERROR" if self.auth.outcome == "NO_HOST"
                            else "DECLINED")
                if self.auth.outcome == "NO_HOST":
                    result = "UNSUCCESSFUL"
            yield from self._remove_card(result == "SUCCESSFUL")
            return result, self.user_message
        except CardFailure as fail:
            if fail.kind == "cancelled":
                yield from self._remove_card(False)
                return "CANCELLED", "Transaction cancelled"
            self.notify({"card_error": "CARD_ERROR", "card_not_supported": "CARD_NOT_SUPPORTED",
                         "timeout": "PROCESSING_ERROR"}.get(fail.kind, "PROCESSING_ERROR"))
            yield from self._remove_card(False)
            return "UNSUCCESSFUL", fail.detail or fail.kind

    def _remove_card(self, approved: bool) -> Gen:
        if self.card is not None and self.card.method == "ICC_CHIP":
            self.notify("REMOVE_CARD")
        yield from self.term.machine.remove_card(approved)

    def _completion(self, key: str) -> Gen:
        assert self.card is not None
        pre = next((e for e in reversed(self.term.journal)
                    if e.type == "PRE_AUTH" and e.result == "SUCCESSFUL"
                    and e.auth_code == self.auth_code), None)
        if pre is None or pre.masked_pan != self.card.masked:
            self.user_message = "No pre-authorisation with this authCode for this card"
            return Authorisation(False, "NONE", outcome="DECLINED")
        return (yield from self.term.machine.capture(pre.reference, self.amount, key))

    def _signature(self) -> Gen:
        """§4.7: print the merchant copy, ask the EPoS, wait ``timeout``; silence accepts."""
        assert self.auth is not None and self.card is not None
        self.phase = "signature"
        t = self.server.timings
        yield self.world.timeout(t["receipt_print"])
        self.notify("SIGNATURE_VERIFICATION")
        partial = self._result_json("SUCCESSFUL")
        lines = receipts.copy("MERCHANT", partial, signature=True)
        params = {"tid": self.term.tid, "timeout": int(t["signature_timeout"]),
                  "receiptLines": {"MERCHANT": lines}
                  if self.server.config.signature_lines == "object" else lines,
                  "authCode": self.auth.auth_code, "applicationId": self.auth.aid,
                  "applicationLabel": self.card.label,
                  "cardholderVerificationMethod": "SIGNATURE",
                  "paymentMethod": self.card.method,
                  "primaryAccountNumber": self.card.masked,
                  "transactionType": TYPES[self.kind]}
        if self.session.version == "v0":
            params = {"tpi": self.term.tid, "timeout": params["timeout"],
                      "receiptLines": params["receiptLines"]}
        rid, answer = self.session.ask("signatureVerificationRequest", params)
        self.notify("SIGNATURE_VERIFICATION_IN_PROGRESS")
        yield self.world.any_of([answer, self.world.timeout(t["signature_timeout"])])
        response = answer.value if answer.triggered else None
        if response is None:
            if rid is not None:
                self.session.forget(rid)
            self.notify("SIGNATURE_VERIFICATION_TIMEOUT")
            self.user_message = ("Signature check not actioned before timeout; the signature "
                                 "was accepted automatically")
            return "SUCCESSFUL"
        result = response.result if response.error is None else None
        if not (isinstance(result, dict) and isinstance(result.get("accepted"), bool)
                and set(result) == {"accepted"}):
            if response.error is None:  # an error answer is graded by the session
                self.session.conduct.not_understood("signatureVerificationRequest", result)
            self.notify("SIGNATURE_VERIFICATION_PROCESS_COULD_NOT_BE_COMPLETED")
            self.user_message = "The signature answer was not understood; accepted automatically"
            return "SUCCESSFUL"
        self.notify("SIGNATURE_VERIFICATION_PROCESS_COMPLETED")
        if result["accepted"]:
            return "SUCCESSFUL"
        self.term.machine.reverse(self.auth.reference)
        self.user_message = "Signature declined; the transaction was reversed"
        return "VOID"

    # -- the answer -----------------------------------------------------------------------
    def _result_json(self, result: str) -> dict[str, Any]:
        card, auth, s = self.card, self.auth, self.session
        approved = result == "SUCCESSFUL"
        out: dict[str, Any] = {
            _tid_key(s): self.term.tid,
            "transactionType": TYPES[self.kind], "transactionResult": result,
            "currency": self.currency, "amountBase": self.amount,
            "amountCashback": self.cashback if approved else 0, "amountGratuity": 0,
            "amountTotal": self.amount + (self.cashback if approved else 0),
            "authCode": auth.auth_code if auth is not None and approved else "",
            "cardSchemeName": card.scheme if card else "",
            "applicationId": (auth.aid if auth is not None and auth.aid else
                              card.aid if card else ""),  # "" for a keyed card
            "applicationLabel": card.label if card else "",
            "cardHolderVerificationMethod": auth.cvm if auth is not None else "UNKNOWN",
            "paymentMethod": card.method if card else "UNKNOWN",
            "primaryAccountNumber": card.masked if card else "",
            "primaryAccountNumberSequence": card.pan_seq if card else "",
            "dateOfExpiry": card.expiry if card else "",
            "transactionId": self.transaction_id,
            "transactionNumber": f"{self.number:04d}",
            "transactionTime": clock(self.term),
        }
        if s.version == "v0":
            out["cardHolderVerificationMethod"] = (out["cardHolderVerificationMethod"]
                                                   if out["cardHolderVerificationMethod"]
                                                   != "UNKNOWN" else "NONE")
        if self.user_message and s.version == "v1":
            out["userMessage"] = self.user_message
        return out

    def _finish(self, result: str, message: str) -> None:
        if result != "SUCCESSFUL":  # why it did not succeed; a message set on the way stays
            self.user_message = self.user_message or message
        tx = self._result_json(result)
        tx["receiptLines"] = receipts.both(tx)
        card, auth = self.card, self.auth
        self.term.record(JournalEntry(
            self.number, TYPES[self.kind], result, self.amount,
            self.cashback if result == "SUCCESSFUL" else 0,
            card.scheme if card else "", self.term.session, tx,
            auth.reference if auth else "", auth.auth_code if auth else "",
            card.masked if card else ""))
        if self.server.config.notify_after_result:
            # a broken server (rule switch): the answer first, notifications after it
            self.session.answer(self.req, tx)
            self.finished = True
            self.notify("TRANSACTION_FINISHED")
        else:
            self.notify("TRANSACTION_FINISHED")
            self.finished = True
            self.session.answer(self.req, tx)
