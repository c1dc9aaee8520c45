"""The running side of a transaction: a SimPy process per EXECUTE_TRANSACTION_REQUEST.

The process walks the states of payworks-p3.md §7 and sends updates, actions and the one
final response through a ``sink`` (the connection that started it, or nobody once that
connection is gone). Every wait goes through :meth:`Flow.wait`, which also wakes on an
accepted abort, so "abort at every abortable state" holds by construction. What a POS
request may do to the transaction is decided in :mod:`transaction` (no I/O there).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable, Generator
from importlib import resources
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.p3 import envelope, receipts
from protocol_servers.p3.errors import P3Error
from protocol_servers.p3.outcomes import Behaviour
from protocol_servers.p3.transaction import CardInfo, Transaction
from simulator.masking import mask_pan

if TYPE_CHECKING:
    from protocol_servers.p3.server import Device, PayServer

_LOG = logging.getLogger("cardloop.p3")
Sink = Callable[[dict[str, Any]], None]
Gen = Generator[simpy.Event, Any, Any]


def mock_card() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("mock_card.toml").read_text("utf-8")
    return tomllib.loads(text)


class Aborted(Exception):
    """An accepted abort (merchant or lost POS) interrupted a wait."""


class ActionTimedOut(Exception):
    """The POS did not answer an action within ``action_timeout``."""


class Flow:
    def __init__(self, server: PayServer, device: Device, tx: Transaction, sink: Sink | None,
                 behaviour: Behaviour | None = None, original: Transaction | None = None) -> None:
        self.server = server
        self.world = server.world
        self.t = server.timings
        self.device = device
        self.tx = tx
        self.sink = sink
        self.behaviour = behaviour
        self.original = original
        self.abort_ev: simpy.Event = self.world.event()
        self.answer_ev: simpy.Event | None = None
        self.owner_gone = False
        self.abecs: Any = None
        self.result: Transaction = original if original is not None and \
            tx.params.type in ("CAPTURE", "TIP_ADJUST") else tx

    # -- called by the server on POS requests -------------------------------------
    def abort(self) -> None:
        if not self.abort_ev.triggered:
            self.abort_ev.succeed()

    def answered(self, body: dict[str, Any]) -> None:
        self.tx.pending = None
        if self.answer_ev is not None and not self.answer_ev.triggered:
            self.answer_ev.succeed(body)

    def lose_owner(self) -> None:
        """payworks-p3.md §10: the POS connection closed before the final response."""
        self.owner_gone = True
        self.sink = None
        self.tx.abort_reason = "ERROR_AUTOREVERSAL_LOGOUT"
        if self.tx.request_abort() is None:  # None only while abortable
            self.abort()

    # -- helpers --------------------------------------------------------------------
    def emit(self, message: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink(message)

    def show(self, state: str, details: str, line1: str, line2: str = "",
             tx_state: str | None = None, abortable: bool | None = None) -> None:
        if abortable is not None:
            self.tx.abortable = abortable
        if tx_state is not None:
            self.tx.state = tx_state
        self.emit(self.tx.update(state, details, line1, line2))

    def wait(self, what: simpy.Event | float) -> Gen:
        """Wait for an event or a delay; raise :class:`Aborted` on an accepted abort.

        An abort accepted earlier has already triggered ``abort_ev``, so an abortable wait
        ends at once."""
        ev = self.world.timeout(what) if isinstance(what, (int, float)) else what
        if self.tx.abortable:
            yield self.world.any_of([ev, self.abort_ev])
            if self.abort_ev.triggered:
                raise Aborted
        else:
            yield ev
        return ev.value if ev.processed else None

    def mock_delay(self) -> float:
        rng = self.world.rng(f"payserver.{self.device.config.identifier}.mock")
        return rng.uniform(self.t["mock_response_min"], self.t["mock_response_max"])

    def ask(self, kind: str, payload: dict[str, Any]) -> Gen:
        """Send an action and block until its SUBMIT_* answer (or abort / timeout)."""
        self.answer_ev = self.world.event()
        self.emit(self.tx.offer(kind, payload))
        timer = self.world.timeout(self.t["action_timeout"])
        yield from self.wait(self.world.any_of([self.answer_ev, timer]))
        if not self.answer_ev.triggered:
            self.tx.pending = None
            raise ActionTimedOut
        answer = self.answer_ev.value
        self.answer_ev = None
        return answer

    # -- the process ------------------------------------------------------------------
    def run(self) -> Gen:
        tx = self.tx
        try:
            try:
                kind = tx.params.type
                if kind in ("CHARGE",) or (kind == "REFUND" and self.original is None):
                    if self.device.reader is not None:
                        from protocol_servers.p3.abecs_flow import AbecsCardFlow

                        self.abecs = AbecsCardFlow(self, self.device.reader)
                        yield from self.abecs.run()
                    else:
                        yield from self.card_flow()
                elif kind == "REFUND":
                    yield from self.referenced_refund()
                elif kind == "CAPTURE":
                    yield from self.capture()
                else:
                    yield from self.tip_adjust()
            except Aborted:
                yield from self.abort_path()
            except ActionTimedOut:
                self.reverse_if_authorised("ERROR_SESSION_TIMEOUT")
                tx.finish("ERROR", "ERROR_SESSION_TIMEOUT", self.world.now)
            except Exception as exc:  # noqa: BLE001 - ends this transaction, not the server
                _LOG.error("transaction %s failed", tx.identifier, exc_info=exc)
                self.world.transcript.event("payserver", f"transaction failed: {exc!r}")
                self.undo_money("ERROR_AUTOREVERSAL_ERROR")
                tx.finish("ERROR", "ERROR_AUTOREVERSAL_ERROR" if tx.reversed
                          else "ERROR_TERMINAL_ERROR", self.world.now)
            if self.owner_gone and tx.status == "APPROVED" and \
                    tx.params.type in ("CHARGE", "REFUND"):
                # §10: the POS never got the final answer; the money movement is undone.
                # (CAPTURE / TIP_ADJUST amend a charge the POS can see again; they stand.)
                if tx.params.type == "CHARGE":
                    self.reverse_if_authorised("ERROR_AUTOREVERSAL_LOGOUT")
                else:
                    self.reverse_refund("ERROR_AUTOREVERSAL_LOGOUT")
                tx.finish("ERROR", "ERROR_AUTOREVERSAL_LOGOUT", self.world.now)
        finally:
            self.device.current = None
            self.server.record(tx)
        result = self.result
        try:
            rcpt = receipts.build(result, self.server.merchant, self.server.epoch, self.world.now)
            final = envelope.ok_response(
                "EXECUTE_TRANSACTION_RESPONSE", tx.tag, tx.resource,
                {"transaction": result.to_json(rcpt)},
            )
        except Exception as exc:  # noqa: BLE001 - the POS must hear, and the books balance
            # Building the answer runs after the money moved. If it fails, the money is
            # moved back and the POS hears an error: never an approval it did not see.
            _LOG.error("final response of %s failed", tx.identifier, exc_info=exc)
            self.world.transcript.event("payserver", f"final response failed: {exc!r}")
            self.undo_money("ERROR_AUTOREVERSAL_ERROR")
            tx.finish("ERROR", "ERROR_AUTOREVERSAL_ERROR", self.world.now)
            final = envelope.error_response(
                "EXECUTE_TRANSACTION_RESPONSE", tx.tag, tx.resource,
                P3Error("INTERNAL_INCONSISTENCY",
                        f"transaction {tx.identifier} failed and was reversed"))
        self.emit(final)

    def undo_money(self, reason: str) -> None:
        """Move back whatever this transaction moved (after an unexpected failure)."""
        tx = self.tx
        try:
            if tx.params.type == "CHARGE":
                self.reverse_if_authorised(reason)
            elif tx.params.type == "REFUND" and tx.status == "APPROVED" and not tx.reversed:
                self.reverse_refund(reason)
        except Exception as exc:  # noqa: BLE001 - reported; the ledger check will show it
            _LOG.error("reversal of %s failed", tx.identifier, exc_info=exc)

    def reverse_if_authorised(self, reason: str) -> None:
        tx = self.tx
        if tx.authorised and not tx.reversed:
            p = tx.params
            assert p.amount is not None and p.currency is not None
            if tx.acquirer_ref is not None:
                self.server.acquirer.reverse(tx.acquirer_ref, key=f"reversal-{tx.identifier}")
            else:
                self.server.gateway.reverse(tx.identifier, p.amount, p.currency, reason)
            tx.reversed = True
            tx.captured = False

    def reverse_refund(self, reason: str) -> None:
        tx, orig = self.tx, self.original
        p = tx.params
        assert p.amount is not None and p.currency is not None
        if tx.acquirer_ref is not None:
            self.server.acquirer.reverse(tx.acquirer_ref, key=f"reversal-{tx.identifier}")
        else:
            self.server.gateway.reverse(tx.identifier, p.amount, p.currency, reason)
        tx.reversed = True
        if orig is not None:
            orig.refunded -= p.amount
            if tx.identifier in orig.refund_ids:
                orig.refund_ids.remove(tx.identifier)

    def abort_path(self) -> Gen:
        tx = self.tx
        tx.pending = None
        self.show("ABORTED", "ABORTED", "Aborting payment...", abortable=False)
        if self.abecs is not None:
            yield from self.abecs.cancel()
        yield self.world.timeout(self.t["abort_settle"])
        reason = tx.abort_reason or "ABORTED_MERCHANT_ABORTED"
        self.reverse_if_authorised(reason)
        if reason.startswith("ERROR"):
            tx.finish("ERROR", reason, self.world.now)
            self.show("FAILED", "FAILED", "Payment failed", "Connection to POS lost")
        else:
            tx.finish("ABORTED", reason, self.world.now)
            self.show("ABORTED", "ABORTED", "Payment aborted")

    def decline(self, code: str, reason_text: str) -> Gen:
        tx = self.tx
        self.show("WAITING_FOR_CARD_REMOVAL", "PROCESSING_WAITING_FOR_CARD_REMOVAL",
                  "Payment declined", "Remove card", tx_state="AWAITING_CARD_REMOVAL",
                  abortable=False)
        yield self.world.timeout(self.t["card_removal"])
        tx.finish("DECLINED", code, self.world.now)
        self.show("DECLINED", "DECLINED", "Payment declined", reason_text)

    # -- card present (CHARGE, standalone REFUND) on the MOCK reader -----------------------
    def card_flow(self) -> Gen:
        tx, b = self.tx, self.behaviour
        assert b is not None
        refund = tx.params.type == "REFUND"
        self.show("CONNECTING_TO_ACCESSORY", "CONNECTING_TO_ACCESSORY",
                  "Connecting to", "card reader", tx_state="IDLE", abortable=True)
        yield from self.wait(self.t["connect_accessory"])
        self.show("INITIALIZING_TRANSACTION", "INITIALIZING_TRANSACTION_REGISTERING",
                  "Registering", "transaction")
        yield from self.wait(self.t["register_transaction"])
        tx.status_code = "PENDING_WAITING_FOR_EXECUTION"
        self.show("WAITING_FOR_CARD_PRESENTATION", "PROCESSING_WAITING_FOR_CARD_PRESENTATION",
                  tx.amount_line(), "Insert or swipe card", tx_state="AWAITING_CARD")
        yield from self.wait(self.mock_delay())
        self.show("PROCESSING", "PROCESSING", "Reading card...")
        card = mock_card()
        self.world.redactor.add_pan(card["pan"])
        app = card["applications"][0]
        if b.question == "APPLICATION_SELECTION":
            self.show("PROCESSING", "PROCESSING_ACTION_REQUIRED", "Select your account",
                      tx_state="AWAITING_APPLICATION_SELECTION")
            apps = [{"applicationIdentifier": a["applicationIdentifier"],
                     "applicationName": a["applicationName"]} for a in card["applications"]]
            answer = yield from self.ask("APPLICATION_SELECTION", {"applications": apps})
            chosen = answer["applicationIdentifier"].upper()
            app = next(a for a in card["applications"]
                       if a["applicationIdentifier"].upper() == chosen)
        tx.card = CardInfo(
            scheme=app["scheme"], source=card["source"], masked_pan=mask_pan(card["pan"]),
            expiry_month=card["expiry_month"], expiry_year=card["expiry_year"],
            country_numeric=card["country_numeric"], aid=app["applicationIdentifier"],
            application_name=app["applicationName"], pan_sequence=card["pan_sequence"],
        )
        if b.question == "CREDIT_DEBIT_SELECTION":
            self.show("PROCESSING", "PROCESSING_ACTION_REQUIRED", "Credit or debit?",
                      tx_state="AWAITING_CREDIT_DEBIT_SELECTION")
            answer = yield from self.ask("CREDIT_DEBIT_SELECTION", {"options": ["CREDIT", "DEBIT"]})
            tx.account_type = answer["selection"]
        if b.question == "CUSTOMER_IDENTIFICATION":
            self.show("PROCESSING", "PROCESSING_ACTION_REQUIRED", "Identification required",
                      tx_state="AWAITING_IDENTIFICATION")
            answer = yield from self.ask("CUSTOMER_IDENTIFICATION", {})
            if not answer["verified"]:
                # SDK mock (payworks-p3.md §7.4): "not verified" makes the transaction fail
                yield from self.decline("DECLINED_VERIFICATION_FAILED", "Identification failed")
                return
        if not refund and b.outcome == "DECLINE_OFFLINE":
            yield from self.decline("DECLINED_CARD_OR_TERMINAL_DECLINED", "Declined by card")
            return
        if not refund and b.outcome == "BLOCKED":
            yield from self.decline("DECLINED_CARD_BLOCKED", "Declined - Card blocked")
            return
        if not refund and b.needs_pin:
            ok = yield from self.pin_entry(b)
            if not ok:
                yield from self.decline("DECLINED_PIN_WRONG_TOO_OFTEN", "Declined - Wrong PIN")
                return
            tx.verification = "PIN_AND_SIGNATURE" if b.needs_signature else "PIN"
        elif not refund and b.needs_signature:
            tx.verification = "SIGNATURE"
        # online authorisation: no longer abortable (payworks-p3.md §7.1 step 5)
        self.show("PROCESSING", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL",
                  "Authorization in progress...", tx_state="AWAITING_EXECUTION", abortable=False)
        tx.status_code = "PENDING_WAITING_FOR_PROCESSOR"
        yield self.world.timeout(self.mock_delay())
        p = tx.params
        assert p.amount is not None and p.currency is not None
        if refund:
            self.server.gateway.refund(tx.identifier, p.amount, p.currency, None)
            tx.authorization_code = f"{self.world.rng('payserver.authcodes').randrange(10**6):06d}"
        else:
            result = self.server.gateway.authorise(
                tx.identifier, p.amount, p.currency,
                approve=b.outcome != "DECLINE_ONLINE", capture=p.auto_capture,
            )
            if not result.approved:
                yield from self.decline(result.code, "Declined")
                return
            tx.authorised = True
            tx.captured = p.auto_capture
            tx.authorization_code = result.authorization_code
            tx.tip_adjust_status = "ADJUSTABLE"
        if self.owner_gone:
            raise Aborted
        if not refund and b.needs_signature:
            # the SDK asks for the signature after approval (payworks-p3.md §7.2)
            self.show("PROCESSING", "PROCESSING_ACTION_REQUIRED", "Payment approved",
                      "Signature required", tx_state="AWAITING_SIGNATURE", abortable=True)
            answer = yield from self.ask("CUSTOMER_SIGNATURE", {})
            if answer.get("signatureOnReceipt"):
                tx.signature_on_receipt = True
            elif not answer.get("verified", True):
                self.reverse_if_authorised("DECLINED_VERIFICATION_FAILED")
                yield from self.decline("DECLINED_VERIFICATION_FAILED", "Signature not verified")
                return
        word = "Refund" if refund else "Payment"
        self.show("WAITING_FOR_CARD_REMOVAL", "PROCESSING_WAITING_FOR_CARD_REMOVAL",
                  f"{word} approved", "Remove card", tx_state="AWAITING_CARD_REMOVAL",
                  abortable=False)
        yield self.world.timeout(self.t["card_removal"])
        tx.finish("APPROVED", "APPROVED", self.world.now)
        self.show("APPROVED", "APPROVED", f"{word} approved")

    def pin_entry(self, b: Behaviour) -> Gen:
        tries = self.server.rules.pin_tries
        for attempt in range(tries):
            last = attempt == tries - 1
            head = "Enter PIN (last try)" if last and attempt else (
                "Enter PIN (incorrect)" if attempt else "Enter PIN")
            self.show("WAITING_FOR_CARD_DATA_INPUT", "PROCESSING_WAITING_FOR_PIN", head, "",
                      tx_state="AWAITING_PIN")
            for digit in range(4):
                yield from self.wait(self.t["pin_digit"])
                self.show("WAITING_FOR_CARD_DATA_INPUT", "PROCESSING_WAITING_FOR_PIN", head,
                          "*" * (digit + 1))
            if b.pin_correct:
                self.show("PROCESSING", "PROCESSING", "Correct PIN")
                return True
            self.show("PROCESSING", "PROCESSING", "Wrong PIN")
        return False

    # -- referenced operations: no card (payworks-p3.md §7.7, §7.8) -----------------------
    def referenced_refund(self) -> Gen:
        tx, orig = self.tx, self.original
        assert orig is not None
        p = tx.params
        assert p.amount is not None and p.currency is not None
        tx.card = orig.card
        self.show("PROCESSING", "PROCESSING", "Processing refund...", tx_state="AWAITING_EXECUTION",
                  abortable=False)
        yield self.world.timeout(self.t["register_transaction"])
        if orig.acquirer_ref is not None:
            entry = self.server.acquirer.refund(orig.capture_ref or orig.acquirer_ref, p.amount,
                                                key=tx.identifier)
            if not entry.approved:
                tx.finish("DECLINED", "DECLINED_PROCESSOR_REFUND_NOT_POSSIBLE", self.world.now)
                self.show("DECLINED", "DECLINED", "Refund declined")
                return
            tx.acquirer_ref = entry.ref
        else:
            self.server.gateway.refund(tx.identifier, p.amount, p.currency, orig.identifier)
        orig.refunded += p.amount
        orig.refund_ids.append(tx.identifier)
        tx.finish("APPROVED", "APPROVED", self.world.now)
        self.show("APPROVED", "APPROVED", "Refund approved")

    def _open_on_original(self) -> Gen:
        """What a capture and a tip adjust of a standing charge open with: the charge and
        the request's amount, "Processing payment..." (not abortable) and the register."""
        tx, orig = self.tx, self.original
        assert orig is not None
        p = tx.params
        assert p.amount is not None and p.currency is not None
        self.show("PROCESSING", "PROCESSING", "Processing payment...", abortable=False)
        yield self.world.timeout(self.t["register_transaction"])
        return tx, orig, p

    def capture(self) -> Gen:
        tx, orig, p = yield from self._open_on_original()
        if orig.acquirer_ref is not None:
            entry = self.server.acquirer.capture(orig.acquirer_ref, p.amount, key=tx.identifier)
            if not entry.approved:
                tx.finish("DECLINED", "DECLINED_PROCESSOR", self.world.now)
                self.show("DECLINED", "DECLINED", "Capture declined")
                return
            orig.capture_ref = entry.ref
        else:
            self.server.gateway.capture(orig.identifier, p.amount, p.currency)
        orig.captured = True
        if orig.params.amount is not None and p.amount < orig.params.amount:
            # partial capture: the rest is released (SDK PARTIAL_CAPTURE record, §5.1)
            orig.params.amount = p.amount
        tx.finish("APPROVED", "APPROVED", self.world.now)
        self.show("APPROVED", "APPROVED", "Payment captured")

    def tip_adjust(self) -> Gen:
        tx, orig, p = yield from self._open_on_original()
        if orig.acquirer_ref is not None:
            # an ABECS reader's charge: the tip is added at the acquirer (no card needed),
            # under this request's own identifier so a retry is not counted twice
            entry = self.server.acquirer.tip_adjust(orig.acquirer_ref, p.amount,
                                                    key=tx.identifier)
            if not entry.approved:
                tx.finish("DECLINED", "DECLINED_PROCESSOR", self.world.now)
                self.show("DECLINED", "DECLINED", "Tip adjust declined")
                return
            tx.acquirer_ref = entry.ref
        else:
            self.server.gateway.tip_adjust(orig.identifier, p.amount, p.currency)
        orig.params.included_tip = (orig.params.included_tip or 0) + p.amount
        orig.params.amount = (orig.params.amount or 0) + p.amount
        orig.tip_adjust_status = "ADJUSTED"
        tx.finish("APPROVED", "APPROVED", self.world.now)
        self.show("APPROVED", "APPROVED", "Tip adjusted")
