"""The card-present flow on an ABECS reader: GCR, GOC, acquirer, FNC, RMC.

Same P3 updates, actions and abort rules as the MOCK reader (:mod:`flows`), but the card
is a virtual EMV card read by the project's EMV kernel inside the pinpad, and the online
authorisation is an ARQC the shared acquirer host verifies. Every ABECS command runs
as its own process so that an accepted abort can CANcel it (ABECS §2.2.4: CAN->EOT).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.p3.money import numeric
from protocol_servers.p3.transaction import CardInfo
from simulator.masking import mask_pan
from virtual_devices.terminal.app import entry_mode

if TYPE_CHECKING:
    from protocol_servers.p3.abecs_reader import AbecsReader
    from protocol_servers.p3.flows import Flow

Gen = Generator[simpy.Event, Any, Any]
SCHEMES = (("A0000000043060", "MAESTRO"), ("A0000000032010", "VISA_ELECTRON"),
           ("A000000003", "VISA"), ("A000000004", "MASTERCARD"),
           ("A000000025", "AMERICAN_EXPRESS"))


def scheme_of(aid: str) -> str:
    for prefix, scheme in SCHEMES:
        if aid.upper().startswith(prefix):
            return scheme
    return "UNKNOWN"


# The terminal application's entry modes in P3's paymentDetails.source words.
P3_SOURCES = {"chip": "ICC", "contactless": "NFC_ICC", "contactless-magstripe": "NFC_MAGSTRIPE",
              "magstripe": "MAGNETIC_STRIPE", "fallback": "MAGNETIC_STRIPE_FALLBACK"}


def card_info(card: Any, aid: str) -> CardInfo:
    """What P3 reports of the card GCR read (the PAN masked)."""

    return CardInfo(
        scheme=scheme_of(aid),
        source=P3_SOURCES.get(entry_mode(card), "ICC"),
        masked_pan=mask_pan(card.pan),
        expiry_month=int(card.expiry[2:4] or 0),
        expiry_year=2000 + int(card.expiry[:2] or 0),
        country_numeric=card.issuer_country or "000", aid=aid,
        application_name=card.app_label.strip() or scheme_of(aid),
        pan_sequence=f"{card.pan_seq:02d}",
    )


def _guard(gen: Gen) -> Gen:
    """Run an ABECS exchange; its error becomes the value (so an abort can wait on it)."""
    try:
        return (yield from gen)
    except Exception as exc:  # AbecsError, link errors: mapped by the caller
        return exc


class TerminalFailure(Exception):
    def __init__(self, status: str, code: str, line: str) -> None:
        super().__init__(code)
        self.status, self.code, self.line = status, code, line


def _map_error(exc: Exception, stage: str) -> TerminalFailure:
    from virtual_devices.abecs import messages as m

    code = getattr(exc, "code", None)
    if code == m.ST_CANCEL:
        return TerminalFailure("ABORTED", "ABORTED_SHOPPER_ABORTED", "Payment aborted")
    if code == m.ST_TIMEOUT:
        detail = ("ABORTED_PRESENT_CARD_TIMED_OUT" if stage == "card"
                  else "ABORTED_PIN_ENTRY_TIMED_OUT")
        return TerminalFailure("ABORTED", detail, "Payment aborted")
    if code == m.ST_CARDBLOCKED:
        return TerminalFailure("DECLINED", "DECLINED_CARD_BLOCKED", "Declined - Card blocked")
    return TerminalFailure("ERROR", "ERROR_TERMINAL_ERROR", "Processing error")


class AbecsCardFlow:
    def __init__(self, flow: Flow, reader: AbecsReader) -> None:
        self.f = flow
        self.r = reader
        self.running: simpy.Process | None = None

    def command(self, gen: Gen, stage: str, limit: float | None = None) -> Gen:
        """Run one ABECS exchange; ``limit`` seconds without an answer CANcel it."""
        world = self.f.world
        proc = world.process(_guard(gen))
        self.running = proc
        if limit is None:
            result = yield from self.f.wait(proc)
        else:
            yield from self.f.wait(world.any_of([proc, world.timeout(limit)]))
            if not proc.triggered:
                yield from self.cancel()
                raise TerminalFailure("ABORTED", "ABORTED_PRESENT_CARD_TIMED_OUT",
                                      "Payment aborted")
            result = proc.value
        self.running = None
        if isinstance(result, Exception):
            raise _map_error(result, stage)
        return result

    def cancel(self) -> Gen:
        """Abort path: CAN the blocking command that is running, if any."""
        proc = self.running
        if proc is not None and not proc.triggered:
            yield self.f.world.process(_guard(self.r.host.cancel()))
            yield proc
        self.running = None

    def run(self) -> Gen:
        from virtual_devices.abecs import messages as m
        from virtual_devices.acquirer.link import HostLink
        from virtual_devices.emv import tlv
        from virtual_devices.terminal import HostAnswer, Processed

        f, tx, r = self.f, self.f.tx, self.r
        term = r.terminal
        p = tx.params
        assert p.amount is not None and p.currency is not None
        refund = p.type == "REFUND"
        try:
            f.show("CONNECTING_TO_ACCESSORY", "CONNECTING_TO_ACCESSORY", "Connecting to",
                   "card reader", tx_state="IDLE", abortable=True)
            yield from self.command(r.prepare(), "connect")
            f.show("WAITING_FOR_CARD_PRESENTATION", "PROCESSING_WAITING_FOR_CARD_PRESENTATION",
                   tx.amount_line(), "Insert or swipe card", tx_state="AWAITING_CARD")
            r.hand_card()
            when = f.server.epoch + timedelta(seconds=f.world.now)
            card = yield from self.command(term.read_card(p.amount, r.tables, when), "card",
                                           f.t["card_presentation_timeout"])
            if card.card_type not in (m.CARD_ICC, m.CARD_CTLS_EMV):
                raise TerminalFailure("DECLINED", "DECLINED_CARD_OR_TERMINAL_DECLINED",
                                      "Card not supported")
            f.show("PROCESSING", "PROCESSING", "Reading card...")
            f.world.redactor.add_pan(card.pan)
            if refund:
                yield from self.refund_online(card)
                return
            f.show("WAITING_FOR_CARD_DATA_INPUT", "PROCESSING_WAITING_FOR_PIN", "Enter PIN",
                   tx_state="AWAITING_PIN")
            goc = yield from self.command(term.go_on_chip(card, p.amount), "pin")
            emv = tlv.flatten(goc.emv_data)
            aid = (emv.get(0x84) or emv.get(0x4F) or b"").hex().upper()
            tx.card = card_info(card, aid)
            pin = goc.offline_pin or goc.online_pin
            tx.verification = ("PIN_AND_SIGNATURE" if pin and goc.signature else
                               "PIN" if pin else "SIGNATURE" if goc.signature else "NONE")
            if goc.decision == m.DECISION_DECLINED:
                code = ("DECLINED_PIN_WRONG_TOO_OFTEN" if goc.pin_blocked
                        else "DECLINED_CARD_OR_TERMINAL_DECLINED")
                raise TerminalFailure("DECLINED", code, "Declined by card")
            if goc.decision == m.DECISION_ONLINE:
                f.show("PROCESSING", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL",
                       "Authorization in progress...", tx_state="AWAITING_EXECUTION",
                       abortable=False)
                # over the line to the host: its round trip, its timeout, and the timeout
                # reversal when no answer comes (a booked charge is never left behind)
                # the server's own fault when one is set, else the world's line fault
                own = f.server.host_fault
                link = HostLink(f.world, r.acquirer, own if own.mode != "none" else None,
                                roundtrip=f.t["acquirer_roundtrip"], name="payserver.acquirer")
                rsp = yield from term.authorise(
                    Processed(card, goc), p.amount, "sale" if p.auto_capture else "preauth",
                    tx.identifier, numeric(p.currency), link=link)
                if rsp is not None and rsp.approved:
                    tx.acquirer_ref = rsp.reference
                    tx.authorised = True
                    tx.captured = p.auto_capture
                    tx.authorization_code = rsp.auth_code
                    tx.tip_adjust_status = "ADJUSTABLE"
                done = yield from self.command(term.finish_chip(HostAnswer.from_issuer(rsp)),
                                               "finish")
                if rsp is None:
                    raise TerminalFailure("ERROR", "ERROR_SERVER_UNAVAILABLE",
                                          "Processing error")
                if not rsp.approved:
                    raise TerminalFailure("DECLINED", "DECLINED_PROCESSOR", "Declined")
                if done.decision != 0:
                    # the card refused what the host approved: the host must take it back
                    f.reverse_if_authorised("DECLINED_CARD_OR_TERMINAL_DECLINED")
                    raise TerminalFailure("DECLINED", "DECLINED_CARD_OR_TERMINAL_DECLINED",
                                          "Declined by card")
            if f.owner_gone:
                from protocol_servers.p3.flows import Aborted
                raise Aborted
            if goc.signature:
                f.show("PROCESSING", "PROCESSING_ACTION_REQUIRED", "Payment approved",
                       "Signature required", tx_state="AWAITING_SIGNATURE", abortable=True)
                answer = yield from f.ask("CUSTOMER_SIGNATURE", {})
                if answer.get("signatureOnReceipt"):
                    tx.signature_on_receipt = True
                elif not answer.get("verified", True):
                    f.reverse_if_authorised("DECLINED_VERIFICATION_FAILED")
                    raise TerminalFailure("DECLINED", "DECLINED_VERIFICATION_FAILED",
                                          "Signature not verified")
            yield from self.approved("Payment")
        except TerminalFailure as fail:
            yield from self.failed(fail)

    def approved(self, word: str) -> Gen:
        f, tx = self.f, self.f.tx
        f.show("WAITING_FOR_CARD_REMOVAL", "PROCESSING_WAITING_FOR_CARD_REMOVAL",
               f"{word} approved", "Remove card", tx_state="AWAITING_CARD_REMOVAL",
               abortable=False)
        yield f.world.process(_guard(self.r.terminal.remove_card(approved=True)))
        tx.finish("APPROVED", "APPROVED", f.world.now)
        f.show("APPROVED", "APPROVED", f"{word} approved")

    def failed(self, fail: TerminalFailure) -> Gen:
        f, tx, r = self.f, self.f.tx, self.r
        tx.abortable = False
        # whatever failed after the acquirer approved (the card fell silent or was
        # pulled before FNC finished) leaves no money behind: take the approval back
        f.reverse_if_authorised(fail.code)
        if fail.status == "ERROR":
            r.opened = False  # the link failed: open a fresh session next time
        if fail.status != "ERROR":
            f.show("WAITING_FOR_CARD_REMOVAL", "PROCESSING_WAITING_FOR_CARD_REMOVAL",
                   fail.line, "Remove card", tx_state="AWAITING_CARD_REMOVAL")
            yield f.world.process(_guard(r.terminal.remove_card(approved=False)))
        tx.finish(fail.status, fail.code, f.world.now)
        f.show(fail.status, fail.status, fail.line)

    def refund_online(self, card: Any) -> Gen:
        """Standalone refund: the card read by GCR, then a credit booked at the acquirer.

        Choice (payworks-p3.md §7.7 is silent on the card dialogue): no GOC. A refund is
        a credit, so there is no cardholder verification (no PIN) and nothing for the chip
        to authorise; ABECS GOC carries no transaction type that would make the kernel
        run a refund instead of a purchase. GCR has already selected the application and
        read its records (PAN, expiry, sequence number), which is all the acquirer needs;
        the card is released with RMC as after any other transaction. Once the credit is
        booked the flow runs to its end even if the POS left: :meth:`Flow.run` then takes
        the refund back (ERROR_AUTOREVERSAL_LOGOUT), so it is neither lost nor doubled.
        """

        f, tx, term = self.f, self.f.tx, self.r.terminal
        p = tx.params
        assert p.amount is not None and p.currency is not None
        request = term.refund_request(card, p.amount, numeric(p.currency))
        aid = request.aid.hex().upper()
        tx.card = card_info(card, aid)
        tx.verification = "NONE"
        f.show("PROCESSING", "PROCESSING_WAITING_FOR_PROCESSOR_APPROVAL",
               "Processing refund...", tx_state="AWAITING_EXECUTION", abortable=False)
        yield f.world.timeout(f.t["acquirer_roundtrip"])
        entry = term.refund_to_card(card, p.amount, tx.identifier, numeric(p.currency))
        if not entry.approved:
            raise TerminalFailure("DECLINED", "DECLINED_PROCESSOR_REFUND_NOT_POSSIBLE",
                                  "Refund declined")
        tx.acquirer_ref = entry.ref
        tx.authorization_code = entry.meta.get("auth_code") or None
        yield from self.approved("Refund")
