"""One card transaction on the reader, as a SimPy process: sale or card-present refund.

The sale of §B.4 steps 6-9 over :class:`~card_reader.CardReader`: GCR (the card, the
application), the set-amount prompt in polling and delayed-auth modes, GOC (PIN, first
GENERATE AC), the gateway through the shared acquirer (which checks the ARQC), FNC,
the signature prompt when the card's CVM is signature and collection is AUTOMATIC, the
final ``RES_ON_SALE_RESPONSE``, then RMC (``REMOVE_CARD``).

What ``REQ_INIT_DEVICE`` set changes the flow: ``inputMethod`` the interfaces GCR takes
(:mod:`entry`), ``emvType`` QUICK_CHIP ends the card's part before the host
(:meth:`CardTransaction._quick_chip`), the removal timeouts bound the RMC prompts. In
offline mode the sale goes to the POS instead of the gateway (:mod:`offline`).

Nothing is lost or doubled: an approval the POS cannot be told of (the card refused
the host's answer, the signature never came, the POS left) is reversed at the acquirer;
a host that does not answer within ``connection_timeout`` gets the timeout reversal of
whatever it may have booked, and the POS gets ``RES_ON_TRANSACTION_COMM_ERROR`` (§B.6).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.gochip import entry, frames
from protocol_servers.gochip.card_reader import ReaderFailure, TimedOut, card_fields
from protocol_servers.gochip.frames import Amount
from protocol_servers.gochip.records import DESCRIPTIONS, Record, code_for, iso
from simulator.masking import mask_pan

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Session
    from protocol_servers.gochip.card_reader import CardReader

Gen = Generator[simpy.Event, Any, Any]

CARD_TYPES = (("A0000000250", "American Express"), ("A000000003", "Visa"),
              ("A000000004", "MasterCard"), ("A000000494", "Elo"), ("A000000065", "JCB"),
              ("A000000152", "Discover"), ("A000000025", "American Express"))
# Stages: a cancel is honoured while the card dialogue runs and refused once the
# gateway has been asked (§B.5 cancel: CANCELLING / NOT_ALLOWED / CANCELLED).
CARD, ONLINE, CLOSING, DONE = "CARD", "ONLINE", "CLOSING", "DONE"


def stripe_wants_pin(card: Any) -> bool:
    """A stripe asks for a PIN when its service code's third digit is 0, 5 or 6 (ISO/IEC
    7813: PIN required, or prompt when a PIN pad is present - this reader has one)."""
    service = str(getattr(card, "service_code", "") or "")
    return len(service) == 3 and service[2] in "056"


def card_type_of(aid: str) -> str:
    for prefix, name in CARD_TYPES:
        if aid.upper().startswith(prefix):
            return name
    return "Unknown"


class Cancelled(Exception):
    pass


class Ended(Exception):
    """The sale ended without a host decision; ``description`` goes in the final frame."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class Prompt:
    kind: str  # APPLICATION | SIGNATURE | AMOUNT
    answered: simpy.Event
    choices: int = 0


class CardTransaction:
    """A sale (or a card-present unreferenced refund) of one session on its reader."""

    def __init__(self, session: Session, reader: CardReader, record: Record,
                 set_amount: int | None = None) -> None:
        self.session = session
        self.agent = session.agent
        self.world = session.agent.world
        self.reader = reader
        self.record = record
        self.set_amount = set_amount  # polling / delayed auth: ask for the amount
        self.stage = CARD
        self.prompt: Prompt | None = None
        self.cancel_wanted = False
        self.has_turn = False  # the reader is ours (the previous card is out)
        self.fields = {"cardHolderName": "", "expiryDate": ""}
        self.entry: dict[str, Any] = {}  # how the card entered (transactionInputMethod ...)
        self.t = session.agent.timings
        params = session.device_params
        self.allowed = entry.allowed(params.get("inputMethod"))
        self.quick_chip = params.get("emvType") == "QUICK_CHIP"
        self.card_out = False  # quick chip: the card was taken out before the host answered
        self.token_ref: str | None = None  # secureTokenMerchantRef: keep the card as a token
        self.card_pan = ""  # the card read (memory only: for the token, never sent)
        self.offline = session.offline  # offline mode when the sale started (see offline)

    # -- prompts ------------------------------------------------------------------------
    def ask(self, kind: str, frame: dict[str, Any], choices: int = 0) -> Gen:
        """Send a prompt and wait for its answer; None when unanswered or cancelled."""
        self.prompt = Prompt(kind, self.world.event(), choices)
        self.session.send(frame)
        self.session.conduct.prompt_asked()
        wait = self.prompt.answered
        yield self.world.any_of([wait, self.world.timeout(self.t["prompt_timeout"])])
        self.prompt = None
        if not wait.triggered:
            self.session.conduct.prompt_unanswered(kind)
            return None
        return wait.value

    def answer(self, kind: str, value: Any) -> str | None:
        """A REQ_SUBMIT_* arrived: None when it fits the open prompt, else why not."""
        if self.prompt is None or self.prompt.kind != kind:
            open_kind = self.prompt.kind.lower() if self.prompt else "no"
            return f"the reader is not waiting for that answer ({open_kind} prompt open)"
        if not self.prompt.answered.triggered:
            self.prompt.answered.succeed(value)
        return None

    def choose_app(self, labels: list[str]) -> Generator[Any, Any, int | None]:
        if self.cancel_wanted:
            return None
        frame = frames.response("RES_ON_SELECT_APPLICATION", {"applications": list(labels)})
        got = yield from self.ask("APPLICATION", frame, len(labels))
        return None if got is None else int(got)

    # -- cancel ------------------------------------------------------------------------
    def cancel(self) -> str:
        """REQ_CANCEL_TRANSACTION: the status the POS is told at once."""
        if self.stage != CARD:
            return "NOT_ALLOWED"
        if self.cancel_wanted:
            return "CANCELLING"
        self.cancel_wanted = True
        if self.prompt is not None and not self.prompt.answered.triggered:
            self.prompt.answered.succeed(None)
        if self.has_turn:  # else the reader still finishes the previous card: leave it
            self.world.process(self.reader.cancel())
        return "CANCELLING"

    def owner_gone(self) -> None:
        """The POS closed the connection: stop the card dialogue while it still may
        (:meth:`cancel` changes nothing once the gateway is asked or a cancel is on)."""
        self.cancel()

    # -- the flow ----------------------------------------------------------------------
    def run(self) -> Gen:
        reader, rec = self.reader, self.record
        with reader.lock.request() as turn:
            yield turn  # the previous card's removal ends first
            self.has_turn = True
            reader.on_message = self.session.message
            reader.choose_app = self.choose_app
            try:
                if rec.kind == "REFUND":
                    yield from self._refund()
                else:
                    yield from self._sale()
            except Cancelled:
                self._final_cancelled()
            except Ended as end:
                self._final(False, "", end.description)
            except ReaderFailure as fail:
                if self.cancel_wanted:
                    self._final_cancelled()
                elif isinstance(fail, TimedOut):  # no card within the presentation timeout
                    self._final(False, "", "CARD READ TIMEOUT")
                elif fail.code is None:
                    self._device_error(str(fail))
                else:
                    self._final(False, "", _reader_description(fail.code))
            self.stage = CLOSING
            self.session.transaction_ended(self)
            if not self.card_out:
                reader.tell("REMOVE_CARD")  # §B.4 step 9 (told again after a quick
                # chip's first prompt: the pinpad's screen still shows it, unchanged)
                # RMC answers at once when no card is in; a card left in past the
                # POS's postTransactionCardRemovalTimeoutInMillis stays in the slot
                removed = yield from reader.remove_card(
                    self._millis("postTransactionCardRemovalTimeoutInMillis",
                                 "card_removal_timeout"))
                if not removed:
                    self.session.message("CARD_NOT_REMOVED")  # ours
            reader.on_message = None
            reader.choose_app = None
            self.stage = DONE

    def _millis(self, param: str, default: str) -> float:
        """A removal timeout of REQ_INIT_DEVICE in seconds, or the default of timings."""
        given = self.session.device_params.get(param)
        return given / 1000 if isinstance(given, int) else float(self.t[default])

    def _read(self) -> Gen:
        """GCR until a card comes through an interface ``inputMethod`` opened (see
        :mod:`entry`), within the card presentation timeout."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.acquirer.host import rid_for_pan

        if self.cancel_wanted:
            raise Cancelled
        deadline = self.world.now + self.t["card_presentation_timeout"]
        while True:
            card = yield from self.reader.read(self.record.amount, self.agent.clock(),
                                               max(0.0, deadline - self.world.now),
                                               tap="TAP" in self.allowed)
            if self.cancel_wanted:
                raise Cancelled
            how = entry.how_read(card)
            if how in self.allowed:
                break
            self.world.transcript.event(self.session.name, f"reader refuses a card read by "
                                        f"{how.lower()} (inputMethod without {how})")
            if how == "INSERT":  # the card is in the slot: it comes out first
                yield from self.reader.remove_card(max(0.0, deadline - self.world.now))
            if self.world.now >= deadline:
                raise Ended("CARD READ TIMEOUT")
            self.reader.reread()
        self.entry = entry.fields(card)
        self.card_pan = card.pan
        rec = self.record
        rec.masked_pan = mask_pan(card.pan)
        # the brand by the card number's issuer (a chip's application names it again
        # after GOC): a sale that ends here still says which card it was
        rec.card_type = card_type_of(rid_for_pan(card.pan).hex().upper())
        self.fields = card_fields(card)
        if (card.card_type == m.CARD_MAGSTRIPE and card.stat_chip == 1
                and not self.agent.settings.features.get("allowMsrFallback", True)):
            # the chip failed and the install does not take the stripe instead (§B.4
            # step 3: features.allowMsrFallback)
            raise Ended("FALLBACK NOT ALLOWED")
        return card

    def _sale(self) -> Gen:
        from virtual_devices.abecs import messages as m
        from virtual_devices.emv import tlv
        from virtual_devices.terminal import Processed
        from virtual_devices.terminal.app import STRIPE_TYPES

        rec, reader = self.record, self.reader
        card = yield from self._read()
        if self.set_amount is not None:
            yield from self._ask_amount()
        if self.offline:
            yield from self._offline(card)
            return
        if card.card_type in STRIPE_TYPES:
            yield from self._stripe_sale(card)
            return
        goc = yield from reader.go_on_chip(card, rec.amount)
        if self.cancel_wanted:
            raise Cancelled
        emv = tlv.flatten(goc.emv_data)
        rec.card_type = card_type_of(_application(emv))
        rec.emv_tags = _tags(emv)
        if goc.decision == m.DECISION_DECLINED:
            raise Ended("DECLINED BY CARD")
        if (self.quick_chip and goc.decision == m.DECISION_ONLINE
                and card.card_type == m.CARD_ICC):  # quick chip is a contact flow
            yield from self._quick_chip(card, goc)
            return
        self.stage = ONLINE
        reader.tell("PROCESSING")
        yield self.world.timeout(self.t["host_roundtrip"])
        # the settings' currency: the reader's tables carry it as 5F2A, so it is also
        # the currency the card's cryptogram covers
        rsp = yield from self._authorise(Processed(card, goc))
        if rsp is None:
            yield from self._comm_error()
            return
        rec.ledger_ref = rsp.reference
        if goc.decision == m.DECISION_APPROVED:
            # the card approved offline (a TC) although the floor limit is 0: the sale
            # goes to the gateway as an advice and there is no second GENERATE AC; the
            # POS hears "approved" only when the gateway booked it
            self._final(rsp.approved, rsp.arc, "", auth_code=rsp.auth_code)
            return
        try:
            fnc = yield from reader.finish(rsp)
        except ReaderFailure:
            self._reverse()  # the card never finished: the host takes its approval back
            raise Ended("CARD REMOVED") from None
        rec.emv_tags = _tags({**emv, **tlv.flatten(fnc.emv_data)})
        approved = rsp.approved and fnc.decision == 0
        if rsp.approved and not approved:
            self._reverse()
            self._final(False, "", "DECLINED BY CARD")
            return
        if approved and goc.signature and not (yield from self._signed(rsp.arc)):
            return
        self._final(approved, rsp.arc, "", auth_code=rsp.auth_code)

    def _quick_chip(self, card: Any, goc: Any) -> Gen:
        """``emvType`` QUICK_CHIP: the card's part ends before the host is asked.

        After the first GENERATE AC (the ARQC the gateway checks) FNC goes at once as
        "unable to go online" (COMMST 1: the card's second GENERATE AC, whatever it
        answers, decides nothing) and the customer is asked to take the card out
        (``REMOVE_CARD``), for up to ``quickChipCardRemovalTimeoutInMillis`` (W-NEW328:
        the first of the two removal prompts). Then the gateway is asked and its answer
        alone is the outcome: no issuer data reaches the card, and no reversal is needed
        for a card that refused at the second GENERATE AC. A card left in is prompted for
        again after the final frame (``postTransactionCardRemovalTimeoutInMillis``).
        """
        from virtual_devices.terminal import Processed

        rec, reader = self.record, self.reader
        try:
            yield from reader.finish(None)
        except ReaderFailure:
            pass  # the card left early: its part was done at the first GENERATE AC
        self.stage = ONLINE  # the card dialogue is over: a cancel comes too late
        self.card_out = yield from reader.remove_card(
            self._millis("quickChipCardRemovalTimeoutInMillis",
                         "quick_chip_card_removal_timeout"))
        reader.tell("PROCESSING")
        yield self.world.timeout(self.t["host_roundtrip"])
        rsp = yield from self._authorise(Processed(card, goc))
        if rsp is None:
            yield from self._comm_error(chip=False)
            return
        rec.ledger_ref = rsp.reference
        if rsp.approved and goc.signature and not (yield from self._signed(rsp.arc)):
            return
        self._final(rsp.approved, rsp.arc, "", auth_code=rsp.auth_code)

    def _signed(self, arc: str) -> Gen:
        """The signature prompt of an approval (when the install collects signatures on
        the POS); False when it went unanswered and the sale was taken back."""
        if self.agent.settings.signature_collection != "AUTOMATIC":
            return True
        self.stage = CLOSING
        got = yield from self.ask("SIGNATURE", frames.response(
            "RES_ON_SIGNATURE_REQUIRED", {"uniqueRef": self.record.unique_ref}))
        if got is None:
            self._reverse()
            self._final(False, arc, "SIGNATURE NOT PROVIDED")
            return False
        return True

    def _stripe_sale(self, card: Any) -> Gen:
        """A swiped card (or a contactless magstripe tap) through the terminal
        application: GPN when the stripe asks for a PIN, the gateway with the track, and
        the signature prompt for an approval taken without a PIN."""
        from virtual_devices.terminal import Processed

        rec, reader = self.record, self.reader
        pin = None
        if stripe_wants_pin(card):
            pin = yield from reader.enter_pin(card)
        if self.cancel_wanted:
            raise Cancelled
        self.stage = ONLINE
        reader.tell("PROCESSING")
        yield self.world.timeout(self.t["host_roundtrip"])
        rsp = yield from self._authorise(Processed(card, pin=pin))
        if rsp is None:
            yield from self._comm_error(chip=False)
            return
        rec.ledger_ref = rsp.reference
        if rsp.approved and pin is None and not (yield from self._signed(rsp.arc)):
            return
        self._final(rsp.approved, rsp.arc, "", auth_code=rsp.auth_code)

    def _ask_amount(self) -> Gen:
        rec = self.record
        assert self.set_amount is not None
        frame = frames.response("RES_ON_REQUEST_SET_AMOUNT", {"sale": {
            "amount": Amount(self.set_amount), "orderId": rec.order_id,
            "currency": rec.currency, "uniqueRef": rec.unique_ref,
            "transactionInputMethod": self.entry.get("transactionInputMethod", "")}})
        got = yield from self.ask("AMOUNT", frame)
        if got is None:
            raise Cancelled
        rec.amount = int(got)

    def _authorise(self, processed: Any) -> Gen:
        """The gateway's answer, or None when it does not answer (or is unreachable)."""
        if not self.agent.gateway_up:
            return None  # nothing reaches the gateway: the connection timeout runs out
        return (yield from self.reader.term.authorise(
            processed, self.record.amount, key=self.record.unique_ref,
            currency=self.agent.settings.currency_code))

    def _offline(self, card: Any) -> Gen:
        """Offline mode (see :mod:`offline`): the card's part, the expiry check, and the
        sale handed to the POS in ``RES_ON_OFFLINE_SALE_REQUEST``; nothing is booked."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.emv import tlv
        from virtual_devices.terminal.app import STRIPE_TYPES

        rec, reader = self.record, self.reader
        if card.card_type not in STRIPE_TYPES:
            goc = yield from reader.go_on_chip(card, rec.amount)
            if self.cancel_wanted:
                raise Cancelled
            emv = tlv.flatten(goc.emv_data)
            rec.card_type = card_type_of(_application(emv))
            rec.emv_tags = _tags(emv)
            if goc.decision == m.DECISION_DECLINED:
                raise Ended("DECLINED BY CARD")
            if goc.decision == m.DECISION_ONLINE:
                try:
                    yield from reader.finish(None)  # "unable to go online": the card is done
                except ReaderFailure:
                    pass
        if card.expiry[:6] < self.agent.clock().strftime("%y%m%d"):
            raise Ended("EXPIRED CARD")
        self._offline_request()

    def _offline_request(self) -> None:
        """The sale the POS submits later: it is not at the gateway, so not in its list."""
        rec = self.record
        self.stage = CLOSING
        rec.description = "OFFLINE"
        body = self._sale_body(False)
        body.pop("code", None)
        body.pop("authorizedAmount", None)
        body["amount"] = Amount(rec.amount)
        body["maskedPAN"] = body.pop("cardNumber")
        self.session.send(frames.response("RES_ON_OFFLINE_SALE_REQUEST", {"sale": body}))
        rec.told = self.session.alive

    def _comm_error(self, chip: bool = True) -> Gen:
        """No host answer: wait out the connection timeout, reverse, tell the POS (and,
        for a chip, let the card decline at FNC)."""
        rec = self.record
        rest = max(0.0, self.t["connection_timeout"] - self.t["host_roundtrip"])
        yield self.world.timeout(rest)
        booked = self.agent.acquirer.ledger.by_key(rec.unique_ref)
        if booked is not None:
            rec.ledger_ref = booked.ref
        reversal = self._reverse()
        try:
            if chip:
                yield from self.reader.finish(None)
        except ReaderFailure:
            pass
        if self.session.offline_when_down:
            # processOfflineWhenCommsDown: the sale goes to the POS to submit later
            self._offline_request()
            return
        rec.code, rec.description = "D", "HOST TIMEOUT"
        self.session.conduct.comm_error_sent(rec.unique_ref)
        self.session.send(frames.error("RES_ON_TRANSACTION_COMM_ERROR", "onTransactionCommError",
                                       "REQ_PROCESS_SALE", {
            "sale": self._sale_body(False),
            "error": "ERROR_TIMEOUT",
            "message": "the gateway did not answer within connectionTimeoutInMillis; "
                       + ("a reversal was sent" if reversal else "nothing was booked"),
        }))
        rec.told = self.session.alive

    def _refund(self) -> Gen:
        """Card-present unreferenced refund: GCR, then a credit to that card."""
        from virtual_devices.acquirer.host import rid_for_pan
        from virtual_devices.emv.kernel.messages import AuthRequest

        rec = self.record
        card = yield from self._read()
        aid = rid_for_pan(card.pan).hex().upper()
        self.stage = ONLINE
        self.reader.tell("PROCESSING")
        yield self.world.timeout(self.t["host_roundtrip"])
        req = AuthRequest("contact", rec.amount, self.agent.settings.currency_code, card.pan,
                          f"{card.pan_seq:02d}", bytes.fromhex(aid), {})
        entry = self.agent.acquirer.refund_to_card(req, key=rec.unique_ref)
        rec.ledger_ref = entry.ref
        self._final(entry.approved, entry.response_code, "")

    # -- endings -----------------------------------------------------------------------
    def _reverse(self) -> bool:
        rec = self.record
        if rec.ledger_ref is None:
            return False
        entry = self.agent.acquirer.ledger.get(rec.ledger_ref)
        if entry is None or not entry.approved or entry.reversed:
            return False
        self.agent.acquirer.reverse(rec.ledger_ref)
        return True

    def _sale_body(self, approved: bool, auth_code: str = "") -> dict[str, Any]:
        rec = self.record
        fields = self.fields
        body: dict[str, Any] = {
            "cardHolderName": fields["cardHolderName"], "cardNumber": rec.masked_pan,
            "expiryDate": fields["expiryDate"],
            "authorizedAmount": Amount(rec.amount if approved else 0),
            "currency": rec.currency, "uniqueRef": rec.unique_ref,
            "dateTime": iso(rec.when), "description": rec.description, "code": rec.code,
            "cardType": rec.card_type, "emvTags": rec.emv_tags, "orderId": rec.order_id,
            **self.entry,
        }
        if auth_code:
            body["approvalCode"] = auth_code  # ours
        return body

    def _final(self, approved: bool, response_code: str, description: str,
               auth_code: str = "") -> None:
        rec = self.record
        rec.code = code_for(approved, response_code)
        rec.description = description or DESCRIPTIONS[rec.code]
        if approved and not self.session.alive:
            # the POS left before it could be told: the approval is taken back
            self._reverse()
            rec.reversed = True
        if rec.kind == "SALE" and "remove-card-first" in self.agent.config.switches:
            self.reader.tell("REMOVE_CARD")  # the switched-off rule: removal before result
        if rec.kind == "REFUND":
            body = self._sale_body(approved, auth_code)
            body["refundedAmount"] = body.pop("authorizedAmount")
            self.session.send(frames.response("RES_ON_REFUND_RESPONSE", {"refundResponse": body}))
        else:
            body = self._sale_body(approved, auth_code)
            if approved and self.token_ref and self.card_pan:
                from protocol_servers.gochip import tokens

                body.update(tokens.for_sale(self.session, self.token_ref, self.card_pan, rec,
                                            self.fields))
            rec.response = body  # what a reversal answers again, with the final amount
            self.session.send(frames.response("RES_ON_SALE_RESPONSE", {"saleResponse": body}))
        rec.told = self.session.alive

    def _final_cancelled(self) -> None:
        rec = self.record
        rec.code, rec.description = "D", "CANCELLED"
        self.session.send(frames.response("RES_ON_CANCEL_TRANSACTION_ATTEMPT",
                                          {"cancellationStatus": "CANCELLED",
                                           "uniqueRef": rec.unique_ref}))
        rec.told = self.session.alive

    def _device_error(self, why: str) -> None:
        rec = self.record
        rec.code, rec.description = "D", "DEVICE ERROR"
        self.reader.opened = False  # open a fresh session on the next use
        self.session.send(frames.error(frames.DEVICE_ERROR, why, "REQ_PROCESS_SALE"
                                       if rec.kind == "SALE" else
                                       "REQ_PROCESS_UNREFERENCED_REFUND",
                                       {"deviceError": "DEVICE_COMMUNICATION_ERROR"}))
        rec.told = self.session.alive


def _application(emv: dict[int, bytes]) -> str:
    """The card's application, in hex: 84 (DF Name), which every FCI carries (EMV Book 1
    §11.3.4) and GOC is asked for; 4F (AID) for a pinpad that would leave 84 out."""
    return (emv.get(0x84) or emv.get(0x4F) or b"").hex().upper()


def _tags(emv: dict[int, bytes]) -> list[dict[str, str]]:
    # never the PAN, track 2 or the cardholder name (57, 5A, 5F20, 9F1F, 56)
    hidden = {0x57, 0x5A, 0x5F20, 0x9F1F, 0x56, 0x9F6B}
    return [{"tag": f"{t:X}", "value": v.hex().upper()}
            for t, v in sorted(emv.items()) if t not in hidden]


def _reader_description(code: int) -> str:
    from virtual_devices.abecs import messages as m

    return {m.ST_TIMEOUT: "CARD READ TIMEOUT", m.ST_CANCEL: "CANCELLED ON READER",
            m.ST_CARDBLOCKED: "CARD BLOCKED", m.ST_CARDAPPNAV: "CARD NOT SUPPORTED",
            }.get(code, f"CARD ERROR {code:03d}")
