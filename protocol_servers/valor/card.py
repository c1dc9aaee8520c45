"""The card side of the terminal: ONE adapter between Valor requests and a card read.

Every sale, pre-auth and refund reads a virtual EMV card through a virtual pinpad: the
project's ABECS pinpad (with the card and the cardholder in it) on an in-memory serial
line, driven by the ABECS host (GCR, GOC, acquirer, FNC, RMC). The ARQC goes to the shared
acquirer host, which verifies it and books the payment; TVR, TSI and the AID in the
final frame come from that kernel run, the PAN only ever leaves here masked.

This module is the only place that knows how the card is read, so the terminal
application of ``virtual_devices/terminal/`` replaces it here alone when it lands.

Choice (§A.4 step 4): nothing of the card dialogue goes on the Valor wire; the moment
the card is read is kept (``card_read``) because a cancel on 5001 only works before it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import simpy

from simulator.masking import mask_pan
from simulator.streams import byte_link
from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]
#: US dollars (Valor PayTech is a US platform, §A.1); ISO 4217 numeric
CURRENCY = 840
EPOCH = datetime(2026, 11, 24, 10, 0, 0)
BRANDS = (("A000000003", "VISA"), ("A000000004", "MASTERCARD"), ("A000000025", "AMEX"),
          ("A000000494", "ELO"))


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
    message: str = ""  # why it failed: declined, no host, card declined, cancelled
    amount: int = 0  # the approved amount (the approved part of a partial approval)
    masked_pan: str = ""
    last4: str = ""
    aid: str = ""
    tvr: str = ""
    tsi: str = ""
    entry_mode: str = ""
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
    """A pinpad with a queue of cards, and the acquirer every authorisation goes to."""

    def __init__(self, world: World, acquirer: Any, cards: tuple[str, ...] = ("visa-chip-pin",),
                 customer: dict[str, Any] | None = None, name: str = "valor") -> None:
        from virtual_devices.abecs.host import AbecsHost
        from virtual_devices.abecs.labeler import FrameLabeler
        from virtual_devices.abecs.pinpad import Pinpad
        from virtual_devices.abecs.tables import records_from_config

        self.world = world
        self.acquirer = acquirer
        self.cards = cards
        self.customer = dict(customer or {})
        holder: list[Pinpad] = []
        labeler = FrameLabeler(lambda: holder[0].session if holder else None)
        host_end, pad_end = byte_link(world, f"{name}.host", f"{name}.pinpad", labeler=labeler)
        self.pinpad = Pinpad(world, pad_end, name=f"{name}.pinpad")
        holder.append(self.pinpad)
        self.pinpad.start()
        self.host = AbecsHost(world, host_end)
        cfg = acquirer.terminal_config()
        self.version = cfg.table_version[:10].ljust(10, "0")
        self.records = records_from_config(cfg)
        self.opened = False
        self.card_read = False
        self._next = 0
        self._running: simpy.Process | None = None
        self.hold_card = False  # the cardholder does not present a card until cancelled

    # -- the pinpad ------------------------------------------------------------------------
    def _prepare(self) -> Gen:
        from virtual_devices.abecs.flows import ensure_tables

        if not self.opened:
            yield from self.host.opn()
            self.opened = True
        yield from ensure_tables(self.host, self.version, self.records)

    def _hand_card(self) -> None:
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        if self.pinpad.cards:
            return
        profile = catalogue()[self.cards[self._next % len(self.cards)]]
        self._next += 1
        self.pinpad.customer = Customer.for_profile(self.world, profile, **self.customer)
        self.pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    def _command(self, gen: Gen) -> Gen:
        proc = self.world.process(_guard(gen))
        self._running = proc
        result = yield proc
        self._running = None
        return result

    def cancel(self) -> Gen:
        """CAN the command in flight (GCR waiting for the card). True when it was running."""
        proc = self._running
        if proc is None or proc.triggered or self.card_read:
            return False
        yield self.world.process(_guard(self.host.cancel()))
        if not proc.triggered:
            yield proc
        return True

    def _read_card(self, amount: int, out: CardOutcome) -> Gen:
        from virtual_devices.abecs import messages as m

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
        when = EPOCH + timedelta(seconds=self.world.now)
        req = m.GcrRequest(amount, when.strftime("%y%m%d"), when.strftime("%H%M%S"),
                           self.version)
        card = yield from self._command(self.host.gcr(req))
        if isinstance(card, Exception):
            code = getattr(card, "code", None)
            out.cancelled = code in (m.ST_CANCEL, m.ST_TIMEOUT)
            out.message = "cancelled" if out.cancelled else "card reader error"
            if not out.cancelled:
                self.opened = False
            return None
        self.card_read = True
        self.world.redactor.add_pan(card.pan)
        out.masked_pan = mask_pan(card.pan)
        out.last4 = card.pan[-4:]
        out.entry_mode = "CLESS" if card.card_type == m.CARD_CTLS_EMV else (
            "CHIP" if card.card_type == m.CARD_ICC else "SWIPE")
        out.app_label = card.app_label.strip()
        out.holder = card.holder_name.strip()
        out.steps.append(f"GCR card type {card.card_type:02d}")
        return card

    # -- what the terminal asks for --------------------------------------------------------
    def purchase(self, amount: int, kind: str, key: str, approve_part: int | None = None) -> Gen:
        """Sale or pre-auth: GCR, GOC, acquirer (``approve_part`` for a partial), FNC, RMC."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.abecs.flows import FNC_TAGS, GOC_TAGS
        from virtual_devices.emv import tlv
        from virtual_devices.emv.kernel.messages import AuthRequest

        out = CardOutcome()
        card = yield from self._read_card(amount, out)
        if card is None:
            return out
        if card.card_type not in (m.CARD_ICC, m.CARD_CTLS_EMV):
            out.message = "card not supported"
            yield from self._command(self.host.rmc("NOT SUPPORTED"))
            return out
        goc = yield from self._command(self.host.goc(m.GocRequest(amount, GOC_TAGS)))
        if isinstance(goc, Exception):
            out.message = "card reader error"
            self.opened = False
            return out
        emv = tlv.flatten(goc.emv_data)
        out.aid = (emv.get(0x84) or emv.get(0x4F) or b"").hex().upper()
        out.issuer = brand_of(out.aid)
        out.tvr = (emv.get(0x95) or b"").hex().upper()
        out.pin = bool(goc.online_pin or goc.offline_pin)
        out.steps.append(f"GOC decision {goc.decision}")
        if goc.decision != m.DECISION_ONLINE:
            out.message = "declined by card"
            yield from self._command(self.host.rmc("DECLINED"))
            return out
        asked = approve_part if approve_part is not None else amount
        auth = AuthRequest("contactless" if out.entry_mode == "CLESS" else "contact", asked,
                           CURRENCY, card.pan, f"{card.pan_seq:02d}", bytes.fromhex(out.aid), emv,
                           pin_block=goc.pin_block if goc.online_pin else None,
                           ksn=goc.ksn if goc.online_pin else None)
        rsp = self.acquirer.authorise(auth, kind=kind, key=key)
        if rsp is None:
            fnc = m.FncRequest(1, "00", b"", FNC_TAGS)
        else:
            out.arc = rsp.arc
            iss = tlv.encode(0x91, rsp.issuer_auth_data) if rsp.issuer_auth_data else b""
            iss += b"".join(rsp.scripts_71) + b"".join(rsp.scripts_72)
            fnc = m.FncRequest(0 if rsp.approved or rsp.arc == "00" else 9, rsp.arc, iss,
                               FNC_TAGS)
        done = yield from self._command(self.host.fnc(fnc))
        if isinstance(done, Exception):
            if rsp is not None and rsp.approved:
                self.acquirer.reverse(rsp.reference)  # the card never finished: take it back
            out.message = "card reader error"
            self.opened = False
            return out
        after = tlv.flatten(done.emv_data)
        out.tvr = (after.get(0x95) or emv.get(0x95) or b"").hex().upper()
        out.tsi = (after.get(0x9B) or b"").hex().upper()
        out.steps.append(f"FNC decision {done.decision}")
        if rsp is None:
            out.message = "no host"
        elif not rsp.approved:
            out.message = "declined"
        elif done.decision != 0:
            self.acquirer.reverse(rsp.reference)  # the card refused what the host approved
            out.message = "declined by card"
        else:
            out.approved = True
            out.amount = asked
            out.acquirer_ref = rsp.reference
            out.auth_code = rsp.auth_code
        yield from self._command(self.host.rmc("APPROVED" if out.approved else "DECLINED"))
        return out

    def refund(self, amount: int, key: str) -> Gen:
        """Card-present refund: GCR reads the card, the acquirer books a credit, RMC.

        As for the other servers' refunds: no GOC (a credit needs no cardholder
        verification and ABECS GOC has no refund type); the AID is the PAN's brand RID.
        """
        from virtual_devices.acquirer.host import rid_for_pan
        from virtual_devices.emv.kernel.messages import AuthRequest

        out = CardOutcome()
        card = yield from self._read_card(amount, out)
        if card is None:
            return out
        out.aid = (card_aid := rid_for_pan(card.pan).hex().upper())
        out.issuer = brand_of(card_aid)
        request = AuthRequest("contact", amount, CURRENCY, card.pan, f"{card.pan_seq:02d}",
                              bytes.fromhex(card_aid), {})
        entry = self.acquirer.refund_to_card(request, key=key)
        if entry.approved:
            out.approved, out.amount = True, amount
            out.acquirer_ref, out.auth_code = entry.ref, str(entry.meta.get("auth_code", ""))
        else:
            out.message = "declined"
        out.arc = entry.response_code
        yield from self._command(self.host.rmc("APPROVED" if out.approved else "DECLINED"))
        return out
