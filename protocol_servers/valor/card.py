"""The card side of the terminal: ONE adapter between Valor requests and a card read.

Every sale, pre-auth and refund reads a virtual EMV card through a virtual pinpad with
the project's terminal application (:mod:`virtual_devices.terminal`: tables, GCR, GOC,
acquirer, FNC, RMC, reversal, refund, cancel) over an in-memory pinpad end. The ARQC
goes to the shared acquirer host, which verifies it and books the payment; TVR, TSI and
the AID in the final frame come from that kernel run; the PAN only leaves here masked.

The Valor terminal is one device (its pinpad is inside it), so the pinpad is an
in-memory end in realtime mode too; nothing of the card dialogue goes on the Valor wire
(§A.4 step 4). The moment the card is read is kept (``card_read``, from the terminal
application's ``CardRead`` event) because a cancel on 5001 only works before it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import simpy

from simulator.masking import mask_pan
from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]
#: US dollars (Valor PayTech is a US platform, §A.1); ISO 4217 numeric
CURRENCY = 840
EPOCH = datetime(2026, 11, 24, 10, 0, 0)
BRANDS = (("A000000003", "VISA"), ("A000000004", "MASTERCARD"), ("A000000025", "AMEX"),
          ("A000000494", "ELO"))


#: how the card was read, from the terminal application's ``entry_mode``, in the two
#: response fields of §A.6. The note lists MANUAL / CLESS / CHIP / TAP / SWIPE for
#: ENTRY_MODE and ENTRY_TYPE without saying which goes where; ours, after the note's
#: sample final ("ENTRY_MODE":"CHIP"): ENTRY_MODE is the reader (CHIP, CLESS, SWIPE,
#: MANUAL) and ENTRY_TYPE what the cardholder did (CHIP, TAP, SWIPE, FALLBACK for a
#: swipe after a failed chip, MANUAL). Keyed entry is listed for completeness: the
#: virtual pinpad offers no keyed PAN, so no sale of ours reads MANUAL.
ENTRY_FIELDS: dict[str, tuple[str, str]] = {
    "chip": ("CHIP", "CHIP"),
    "contactless": ("CLESS", "TAP"),
    "contactless-magstripe": ("CLESS", "TAP"),
    "magstripe": ("SWIPE", "SWIPE"),
    "fallback": ("SWIPE", "FALLBACK"),
    "keyed": ("MANUAL", "MANUAL"),
}


def stripe_wants_pin(card: Any) -> bool:
    """A stripe asks for a PIN when its service code's third digit is 0, 3, 5, 6 or 7
    (ISO/IEC 7813: 0, 3 and 5 PIN required; 6 and 7 prompt for a PIN when a PIN pad is
    present, and the terminal has one)."""
    service = str(getattr(card, "service_code", "") or "")
    return len(service) == 3 and service[2] in "03567"


def brand_of(aid: str) -> str:
    for prefix, name in BRANDS:
        if aid.upper().startswith(prefix):
            return name
    return "UNKNOWN"


@dataclass
class CardOutcome:
    """What the card, the kernel and the acquirer decided (nothing in clear)."""

    approved: bool = False
    cancelled: bool = False
    message: str = ""  # why it failed: declined, no host, declined by card, cancelled
    amount: int = 0  # the approved amount (the approved part of a partial approval)
    masked_pan: str = ""
    last4: str = ""
    aid: str = ""
    tvr: str = ""
    tsi: str = ""
    entry_mode: str = ""  # the terminal application's words: chip, contactless, magstripe ...
    issuer: str = ""
    app_label: str = ""
    holder: str = ""
    acquirer_ref: str = ""
    auth_code: str = ""
    arc: str = ""
    pin: bool = False
    steps: list[str] = field(default_factory=list)


def _guard(gen: Gen) -> Gen:
    try:
        return (yield from gen)
    except Exception as exc:  # ABECS and link errors come back as the value
        return exc


class CardPath:
    """A pinpad with a queue of cards, the terminal application, and the acquirer."""

    def __init__(self, world: World, acquirer: Any, cards: tuple[str, ...] = ("visa-chip-pin",),
                 customer: dict[str, Any] | None = None, name: str = "valor") -> None:
        from virtual_devices.abecs.tables import records_from_config
        from virtual_devices.terminal import Tables, events, pinpad_end
        from virtual_devices.terminal.app import settings_for

        self.world = world
        self.acquirer = acquirer
        self.cards = cards
        self.customer = dict(customer or {})
        self.end = pinpad_end(world, "memory", name=name)
        # Valor terminals speak English and take dollars (§A.1)
        settings = settings_for(currency=CURRENCY, approved_text="APPROVED",
                                declined_text="DECLINED", epoch=EPOCH)
        self.app = self.end.terminal(acquirer, settings=settings)
        cfg = acquirer.terminal_config()
        self.tables = Tables(cfg.table_version[:10].ljust(10, "0"),
                             tuple(records_from_config(cfg)))
        self.opened = False
        self.card_read = False
        self._next = 0
        self._running: simpy.Process | None = None
        self.hold_card = False  # the cardholder does not present a card until cancelled

        def watch(event: Any) -> None:
            if isinstance(event, events.CardRead):
                self.card_read = True

        self.app.subscribe(watch)

    # -- the pinpad ------------------------------------------------------------------------
    def _prepare(self) -> Gen:
        if not self.opened:
            yield from self.app.host.opn()
            self.opened = True
        yield from self.app.ensure_tables(self.tables)

    def _hand_card(self) -> None:
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        pinpad = self.end.pinpad
        if pinpad is None or pinpad.cards:
            return
        profile = catalogue()[self.cards[self._next % len(self.cards)]]
        self._next += 1
        pinpad.customer = Customer.for_profile(self.world, profile, **self.customer)
        pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    def _command(self, gen: Gen) -> Gen:
        proc = self.world.process(_guard(gen))
        self._running = proc
        result = yield proc
        self._running = None
        return result

    def cancel(self) -> Gen:
        """CAN the card wait in flight; True when it cleared a sale whose card was not read."""
        proc = self._running
        if proc is None or proc.triggered or self.card_read:
            return False
        yield self.world.process(_guard(self.app.cancel()))
        if not proc.triggered:
            yield proc
        return True

    def _read_card(self, amount: int, out: CardOutcome) -> Gen:
        from virtual_devices.abecs import messages as m
        from virtual_devices.terminal.app import entry_mode

        prepared = yield from self._command(self._prepare())
        if getattr(prepared, "code", None) == m.ST_NOSEC:
            # 003: the pinpad has no session, so it rebooted since it was opened (whatever
            # failed then, a reboot while it read a card looks like a cancel from here):
            # open it again, as a terminal application does, and go on with this sale.
            # The pinpad is the one who knows: a command that failed for another reason
            # leaves its session as it was, so no error above closes it here
            self.opened = False
            prepared = yield from self._command(self._prepare())
        if isinstance(prepared, Exception):
            self.opened = False
            out.message = "card reader error"
            return None
        self.card_read = False
        if self.hold_card:
            self.hold_card = False
        else:
            self._hand_card()
        card = yield from self._command(self.app.read_card(amount, self.tables,
                                                           steps=out.steps))
        if isinstance(card, Exception):
            code = getattr(card, "code", None)
            out.cancelled = code in (m.ST_CANCEL, m.ST_TIMEOUT)
            out.message = "cancelled" if out.cancelled else "card reader error"
            return None
        out.masked_pan = mask_pan(card.pan)
        out.last4 = card.pan[-4:]
        out.entry_mode = entry_mode(card)
        out.app_label = card.app_label.strip()
        out.holder = card.holder_name.strip()
        return card

    # -- what the terminal asks for --------------------------------------------------------
    def purchase(self, amount: int, kind: str, key: str, approve_part: int | None = None) -> Gen:
        """Sale or pre-auth: GCR, GOC, acquirer (``approve_part`` for a partial), FNC, RMC.

        The split steps of the terminal application, because a partial approval books
        less than the card was asked for (§A.6 PARTIAL: AMOUNT is the approved part).
        """
        from virtual_devices.abecs import messages as m
        from virtual_devices.emv import tlv
        from virtual_devices.terminal import HostAnswer, Processed
        from virtual_devices.terminal.app import STRIPE_TYPES

        out = CardOutcome()
        card = yield from self._read_card(amount, out)
        if card is None:
            return out
        if card.card_type in STRIPE_TYPES:
            return (yield from self._stripe(card, amount, kind, key, approve_part, out))
        goc = yield from self._command(self.app.go_on_chip(card, amount, self.tables))
        if isinstance(goc, Exception):
            out.message = "card reader error"
            return out
        emv = tlv.flatten(goc.emv_data)
        # the DF name (84) is mandatory in an application's FCI (EMV Book 1 §11.3.4), so
        # the kernel always has it after the final SELECT: the AID the card was read with
        out.aid = (emv.get(0x84) or b"").hex().upper()
        out.issuer = brand_of(out.aid)
        out.tvr = (emv.get(0x95) or b"").hex().upper()
        out.pin = bool(goc.online_pin or goc.offline_pin)
        out.steps.append(f"GOC decision {goc.decision}")
        if goc.decision != m.DECISION_ONLINE:
            out.message = "declined by card"
            yield from self._command(self.app.finish(HostAnswer.NONE, approved=False))
            return out
        asked = approve_part if approve_part is not None else amount
        processed = Processed(card, goc)
        rsp = yield from self.app.authorise(processed, asked, kind=kind, key=key)
        answer = HostAnswer.from_issuer(rsp)
        done = yield from self._command(self.app.finish(
            answer, approved=bool(rsp is not None and rsp.approved)))
        if isinstance(done, Exception) or done.fnc is None:
            if rsp is not None and rsp.approved:
                self.app.reverse(rsp.reference or "", key)  # the card never finished
            out.message = "card reader error"
            return out
        after = tlv.flatten(done.fnc.emv_data)
        out.tvr = (after.get(0x95) or emv.get(0x95) or b"").hex().upper()
        out.tsi = (after.get(0x9B) or b"").hex().upper()
        out.steps.append(f"FNC decision {done.fnc.decision}")
        out.arc = rsp.arc if rsp is not None else ""
        if rsp is None:
            out.message = "no host"
        elif not rsp.approved:
            out.message = "declined"
        elif done.fnc.decision != 0:
            self.app.reverse(rsp.reference or "", key)  # the card refused the approval
            out.message = "declined by card"
        else:
            out.approved, out.amount = True, asked
            out.acquirer_ref, out.auth_code = rsp.reference or "", rsp.auth_code
        return out

    def _stripe(self, card: Any, amount: int, kind: str, key: str,
                approve_part: int | None, out: CardOutcome) -> Gen:
        """A swiped card (or a contactless tap in stripe mode): GPN when the stripe asks
        for a PIN, then the acquirer with the track. No GOC/FNC: there is no chip."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.acquirer.host import rid_for_pan
        from virtual_devices.terminal import Processed

        out.aid = ""
        out.issuer = brand_of(rid_for_pan(card.pan).hex().upper())
        pin = None
        if stripe_wants_pin(card):
            pin = yield from self._command(self.app.enter_pin(card))
            if isinstance(pin, Exception):
                code = getattr(pin, "code", None)
                out.cancelled = code in (m.ST_CANCEL, m.ST_TIMEOUT)
                out.message = "cancelled" if out.cancelled else "card reader error"
                return out
            out.pin = True
        asked = approve_part if approve_part is not None else amount
        rsp = yield from self.app.authorise(Processed(card, pin=pin), asked, kind=kind, key=key)
        out.arc = rsp.arc if rsp is not None else ""
        if rsp is None:
            out.message = "no host"
        elif not rsp.approved:
            out.message = "declined"
        else:
            out.approved, out.amount = True, asked
            out.acquirer_ref, out.auth_code = rsp.reference or "", rsp.auth_code
        return out

    def refund(self, amount: int, key: str) -> Gen:
        """Card-present refund with the terminal application: GCR, a credit, RMC (no GOC:
        a credit needs no cardholder verification; see ``Terminal.read_for_refund``)."""
        from virtual_devices.acquirer.host import rid_for_pan

        out = CardOutcome()
        card = yield from self._read_card(amount, out)
        if card is None:
            return out
        out.aid = rid_for_pan(card.pan).hex().upper()
        out.issuer = brand_of(out.aid)
        entry = self.app.refund_to_card(card, amount, key)
        out.arc = entry.response_code
        if entry.approved:
            out.approved, out.amount = True, amount
            out.acquirer_ref = entry.ref
            out.auth_code = str(entry.meta.get("auth_code", ""))
        else:
            out.message = "declined"
        yield from self._command(self.app.remove_card(out.approved))
        return out
