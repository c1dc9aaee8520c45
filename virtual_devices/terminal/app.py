"""The terminal's payment application over ABECS, written once for every server.

:class:`Terminal` drives an :class:`~virtual_devices.abecs.host.AbecsHost` (so any
pinpad end: in memory, pty, serial) through the steps of a card-present payment and
reports what happens through :mod:`~virtual_devices.terminal.events`. Every step is a
SimPy generator (``yield from terminal.read_card(...)``) and raises
:class:`~virtual_devices.abecs.host.AbecsError` with the pinpad's status when the
pinpad refuses; the composed calls (:meth:`Terminal.sale`, :meth:`Terminal.refund`)
catch it and return it in the result instead.

What the servers differ in (tag lists, PIN key, RMC text, GCR's clock) is a
:class:`Settings` value, so each keeps the bytes on its wire as they were.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from simulator.masking import mask_pan
from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.host import AbecsError, AbecsHost
from virtual_devices.terminal import events as ev

Gen = Generator[Any, Any, Any]

# Pagar.me's authorisation tags (mpos-bridge.md §3.5) plus what an issuer needs to
# check the ARQC (CDOL1 inputs) and to know the application (84).
GOC_TAGS: tuple[int, ...] = (
    0x5F2A, 0x82, 0x95, 0x9A, 0x9C, 0x9F02, 0x9F10, 0x9F1A, 0x9F1E, 0x9F26, 0x9F33, 0x9F36,
    0x9F37, 0x9F27, 0x9F34, 0x9F03, 0x9F35, 0x84, 0x4F, 0x9F09, 0x5F34, 0x9F45, 0x9F4C,
    0x9F21, 0x9F6E, 0x9F7C,
)
FNC_TAGS: tuple[int, ...] = (0x9F27, 0x95, 0x9B, 0x9F26, 0x9F36, 0x8A)
# GCR's calendar: the world's clock counts from here, so a run is reproducible.
SIM_EPOCH = datetime.datetime(2026, 11, 25, 12, 0, 0)
STRIPE_TYPES = (m.CARD_MAGSTRIPE, m.CARD_CTLS_MAG)

# How the card was read, by GCR's card type (§3.6.1), in the words the servers report:
# "chip" inserted, "contactless" tapped EMV, "contactless-magstripe" tapped emulating the
# stripe, "magstripe" swiped, "fallback" swiped after the chip failed.
ENTRY_MODES = {m.CARD_MAGSTRIPE: "magstripe", m.CARD_ICC: "chip",
               m.CARD_CTLS_MAG: "contactless-magstripe", m.CARD_CTLS_EMV: "contactless"}


def entry_mode(card: m.GcrResponse | None) -> str:
    """The entry mode the pinpad really saw for ``card`` ("" before a card was read)."""
    if card is None:
        return ""
    if card.card_type == m.CARD_MAGSTRIPE and card.stat_chip == 1:
        return "fallback"
    return ENTRY_MODES.get(card.card_type, "unknown")
# The interface a credit is booked with, by GCR's card type: as the card was read (a tap in
# mag-stripe mode is still a tap, a swipe a swipe)
REFUND_INTERFACES: dict[int, Literal["contact", "contactless", "magstripe"]] = {
    m.CARD_ICC: "contact", m.CARD_CTLS_EMV: "contactless", m.CARD_CTLS_MAG: "contactless",
    m.CARD_MAGSTRIPE: "magstripe"}
# Host approvals that a card may still refuse at FNC (so the host must reverse them).
APPROVING_ARCS = ("00", "08", "10", "11")


@dataclass(frozen=True)
class Tables:
    """The tables a terminal keeps on its pinpad: one version, its encoded records."""

    version: str
    records: tuple[bytes, ...]
    acquirer_index: int = 0

    def floor_limit(self, acq_idx: int, rec_idx: str) -> int:
        """The floor limit of the AID record GCR chose (the host passes it back in GOC)."""
        from virtual_devices.abecs.tables import AidRecord, decode_record

        for raw in self.records:
            try:
                rec = decode_record(raw)
            except ValueError:
                continue
            if isinstance(rec, AidRecord) and (rec.acquirer, rec.record_index) == (acq_idx,
                                                                                    rec_idx):
                return rec.floor_limit
        return 0


@dataclass(frozen=True)
class Settings:
    """How this terminal words its commands; the defaults are the reference host's.

    ``floor_limit`` None takes the chosen AID record's; ``retry_after_fallback`` sends
    GCR again after 076 (the pinpad then asks for a swipe) instead of failing the sale;
    ``approved_text``/``declined_text`` go to RMC (``None``: the same text either way,
    ``removal_text``).
    """

    goc_tags: tuple[int, ...] = GOC_TAGS
    fnc_tags: tuple[int, ...] = FNC_TAGS
    # which card commands drive the pinpad: "classic" GCR/GOC/FNC or the parameter-
    # tagged "abecs" GCX/GOX/FCX (with GTK for the full tracks), ABECS 2.12 §3.6/§3.7
    command_family: Literal["classic", "abecs"] = "classic"
    pin_method: int = 3  # DUKPT:TDES
    pin_key: int = 16
    # WKENC (H32) for MK/WK:TDES (pin_method 1): the working key under the master key
    working_key: str = "0" * 32
    risk_management: bool = True
    floor_limit: int | None = None
    target_pct: int = 0
    threshold: int = 0
    max_target_pct: int = 0
    currency: int = 986
    approved_text: str | None = "OBRIGADO"
    declined_text: str | None = "NEGADA"
    removal_text: str = ""
    retry_after_fallback: bool = True
    epoch: datetime.datetime = SIM_EPOCH


@dataclass(frozen=True)
class HostAnswer:
    """What FNC needs of the host's answer (ABECS §4.9 COMMST, ARC, issuer data)."""

    comm_status: int  # 0 answered, 1 no answer, 9 answered with an ARC other than 00
    arc: str = "00"
    issuer_data: bytes = b""  # 91 + 71/72 scripts, TLV

    NONE: Any = None  # set below: the host did not answer

    @classmethod
    def from_issuer(cls, rsp: Any) -> HostAnswer:
        """The acquirer's :class:`IssuerResponse` (or None: unreachable) as FNC input."""
        if rsp is None:
            return cls(1)
        from virtual_devices.emv import tlv

        iss = tlv.encode(0x91, rsp.issuer_auth_data) if rsp.issuer_auth_data else b""
        iss += b"".join(rsp.scripts_71) + b"".join(rsp.scripts_72)
        # §6.8.5.3: COMMST above 1 means "the acquirer approved whatever the ARC";
        # a decline is COMMST 0 with its ARC (a contactless FNC echoes exactly this)
        commst = 9 if rsp.approved and rsp.arc != "00" else 0
        return cls(commst, rsp.arc, iss)

    def fnc(self, tags: tuple[int, ...]) -> m.FncRequest:
        if self.comm_status == 1:
            return m.FncRequest(1, "00", b"", tags)
        return m.FncRequest(self.comm_status, self.arc, self.issuer_data, tags)


HostAnswer.NONE = HostAnswer(1)


class Choices(Protocol):
    """Questions the card flow puts to the cardholder or the merchant.

    ``choose_application`` is asked by a pinpad in memory when the card offers several
    applications (index, or None to cancel); ``confirm_signature`` after an approval
    with a signature CVM (False: the merchant refused it and the sale is reversed).
    """

    def choose_application(self, labels: Sequence[str]) -> Gen: ...

    def confirm_signature(self) -> Gen: ...


class AcceptAll:
    """The default :class:`Choices`: first application, every signature accepted."""

    def choose_application(self, labels: Sequence[str]) -> Gen:
        return 0
        yield  # pragma: no cover

    def confirm_signature(self) -> Gen:
        return True
        yield  # pragma: no cover


@dataclass
class Processed:
    """The split step *process*: the card read and, for a chip, its online request."""

    card: m.GcrResponse
    goc: m.GocResponse | None = None  # chip: GOC's answer (decision, EMV data, PIN block)
    pin: m.PinResponse | None = None  # stripe: GPN's answer when a PIN was asked

    @property
    def chip(self) -> bool:
        return self.card.card_type not in STRIPE_TYPES

    @property
    def entry_mode(self) -> str:
        return entry_mode(self.card)

    def auth_request(self, amount: int, currency: int) -> Any:
        """The acquirer's :class:`AuthRequest` for this card (online PIN included)."""
        from virtual_devices.emv import tlv
        from virtual_devices.emv.kernel.messages import AuthRequest, Interface

        card = self.card
        if not self.chip:
            pin = self.pin
            # a tap in mag-stripe mode (05) sends its tracks, CVC3 inside, as a tap
            how: Interface = ("contactless" if card.card_type == m.CARD_CTLS_MAG
                              else "magstripe")
            return AuthRequest(how, amount, currency, card.pan, "00", b"", {},
                               track2=card.track2, fallback=card.stat_chip == 1,
                               pin_block=pin.pin_block if pin else None,
                               ksn=pin.ksn if pin else None)
        goc = self.goc
        assert goc is not None
        emv = tlv.flatten(goc.emv_data)
        aid = emv.get(0x84) or emv.get(0x4F, b"")
        return AuthRequest("contactless" if card.card_type == m.CARD_CTLS_EMV else "contact",
                           amount, currency, card.pan, f"{card.pan_seq:02d}", aid, emv,
                           pin_block=goc.pin_block if goc.online_pin else None,
                           ksn=goc.ksn if goc.online_pin else None)


# ABECS 2.12 §3.3.8: GCD shows only messages of its fixed table (a PCI rule), so keyed
# entry asks with the table's card number, month, year and security code prompts. The
# table has no expiry prompt of its own: month and year are asked one after the other.
GCD_CARD_NUMBER, GCD_MONTH, GCD_YEAR, GCD_SECURITY_CODE = 0x32, 0x13, 0x14, 0x0C


@dataclass
class KeyedCard:
    """A card typed on the keypad: what the acquirer needs instead of a chip's data."""

    pan: str = field(repr=False)
    expiry: str = ""  # YYMM, as on a track
    security_code: str = field(default="", repr=False)

    @property
    def masked(self) -> str:
        return mask_pan(self.pan)

    @property
    def expiry_mm_yy(self) -> str:
        return f"{self.expiry[2:4]}/{self.expiry[:2]}" if len(self.expiry) == 4 else ""

    def auth_request(self, amount: int, currency: int, date: str) -> Any:
        """The acquirer's keyed :class:`AuthRequest` (no EMV data, no PIN); ``date`` is
        the terminal's date (YYMMDD), against which the host checks the expiry."""
        from virtual_devices.acquirer.host import rid_for_pan
        from virtual_devices.emv.kernel.messages import AuthRequest

        return AuthRequest("keyed", amount, currency, self.pan, "", rid_for_pan(self.pan),
                           {}, expiry=self.expiry, security_code=self.security_code or None,
                           date=date)


@dataclass
class Finished:
    """The split step *finish*: FNC's answer (chip) and whether the card refused an
    approval (the host must then take it back)."""

    fnc: m.FncResponse | None = None
    declined_by_card: bool = False
    errors: list[AbecsError] = field(default_factory=list)  # FNC/RMC failures, in order


@dataclass
class SaleResult:
    """A whole payment: what the card, the host and the pinpad decided."""

    card_type: int = -1
    pan: str = ""
    card: m.GcrResponse | None = None
    goc: m.GocResponse | None = None
    fnc: m.FncResponse | None = None
    pin: m.PinResponse | None = None
    arc: str = ""
    reference: str = ""
    host_answered: bool = False
    approved: bool = False
    error: int | None = None  # ABECS status that ended the sale
    reversed: bool = False  # an approval was undone because the card could not finish
    signature: bool = False
    steps: list[str] = field(default_factory=list)

    @property
    def entry_mode(self) -> str:
        """"chip", "contactless", "contactless-magstripe", "magstripe" or "fallback"."""
        return entry_mode(self.card)


def _stamp(when: datetime.datetime) -> tuple[str, str]:
    return when.strftime("%y%m%d"), when.strftime("%H%M%S")


class Terminal:
    """One terminal: the application on top of one pinpad end.

    ``acquirer`` is anything with ``authorise(AuthRequest, ...)`` (and ``reverse``,
    ``refund_to_card``, ``capture``, ``refund`` for the operations that need them);
    the split steps (:meth:`process`, :meth:`finish`) need none, the caller asks its
    own host between them.
    """

    def __init__(
        self,
        world: World,
        host: AbecsHost,
        acquirer: Any = None,
        settings: Settings | None = None,
        observer: ev.Observer | None = None,
        choices: Choices | None = None,
    ) -> None:
        self.world = world
        self.host = host
        self.acquirer = acquirer
        self.settings = settings or Settings()
        self.observers: list[ev.Observer] = [observer] if observer is not None else []
        self.choices: Choices = choices or AcceptAll()
        self.device_feed = False  # a pinpad in this world reports the device events
        self.chip_pending = False  # a GOC succeeded and FNC has not been sent yet
        self.last: Processed | None = None
        host.listeners.append(self._on_ntm)

    # -- events ---------------------------------------------------------------------------
    def subscribe(self, observer: ev.Observer) -> None:
        self.observers.append(observer)

    def emit(self, event: ev.TerminalEvent) -> None:
        for obs in list(self.observers):
            obs(event)

    def _derived(self, event: ev.TerminalEvent) -> None:
        """A device event worked out from ABECS: only when the pinpad cannot say it."""
        if not self.device_feed:
            self.emit(event)

    def _on_ntm(self, text: str) -> None:
        self._derived(ev.DisplayChanged(self.world.now, text.strip()))

    def attach_pinpad(self, pinpad: Any) -> None:
        """Take the device events from a pinpad in the same world (in-memory mode) and
        put the application-selection question to :attr:`choices`."""
        self.device_feed = True
        pinpad.subscribe(self.emit)
        pinpad.chooser = self.choices.choose_application

    # -- the clock ---------------------------------------------------------------------------
    def now(self) -> datetime.datetime:
        return self.settings.epoch + datetime.timedelta(seconds=self.world.now)

    # -- steps ---------------------------------------------------------------------------
    def ensure_tables(self, tables: Tables, force: bool = False) -> Gen:
        """GTS, and TLI/TLR.../TLE when the pinpad's version differs. True when loaded."""
        held = yield from self.host.gts(tables.acquirer_index)
        if force or held[:10] != tables.version[:10]:
            yield from self.load_tables(tables)
            return True
        return False

    def load_tables(self, tables: Tables) -> Gen:
        yield from self.host.load_tables(tables.acquirer_index, tables.version, tables.records)
        self.emit(ev.TablesLoaded(self.world.now, tables.version))

    def read_card(
        self,
        amount: int,
        tables: Tables,
        when: datetime.datetime | None = None,
        app_type: int = 99,
        apps: tuple[tuple[int, str], ...] = (),
        steps: list[str] | None = None,
        ctls: bool | None = None,
    ) -> Gen:
        """GCR; on 020 reload the tables and resume with a bare GCR (§4.7); on 076 ask
        again (the pinpad then wants a swipe) when the settings say so. ``ctls`` False
        keeps the antenna off (GCR_CTLSON 0, GCX option "0xxxx"): no tap is taken."""
        steps = steps if steps is not None else []
        date, time = _stamp(when or self.now())
        req = m.GcrRequest(amount, date, time, tables.version, acq_idx=0,
                           app_type=app_type, apps=apps, ctls=ctls)
        self.chip_pending = False
        self.emit(ev.CardRequested(self.world.now, amount))
        get_card = (self.host.gcx_as_gcr if self.settings.command_family == "abecs"
                    else self.host.gcr)
        try:
            card = yield from get_card(req)
        except AbecsError as exc:
            if exc.code == m.ST_TABVERDIF:
                steps.append("GCR 020: reload tables, bare GCR")
                yield from self.load_tables(tables)
                card = yield from self.host.gcr(None)
            elif exc.code == m.ST_ERRFALLBACK and self.settings.retry_after_fallback:
                steps.append("GCR 076: chip failed, GCR again for the stripe")
                card = yield from get_card(req)
            else:
                raise
        if card.card_type == m.CARD_CTLS_MAG and not card.pan:
            # type 05 reports only the tracks (ABECS 2.12 §6.8.1.3): the PAN is track 2's
            card = dataclasses.replace(card, pan=card.track2.partition("=")[0])
        self._secret(card)
        steps.append(f"GCR card type {card.card_type:02d}")
        masked = mask_pan(card.pan)
        how: ev.Presentation = (
            "tap" if card.card_type in (m.CARD_CTLS_EMV, m.CARD_CTLS_MAG)
            else "swipe" if card.card_type in STRIPE_TYPES else "insert")
        self._derived(ev.CardPresented(self.world.now, how, masked))
        self.emit(ev.CardRead(self.world.now, card.card_type, masked,
                              card.card_type in STRIPE_TYPES and card.stat_chip == 1))
        return card

    def key_card(self, security_code: bool = True, timeout: int | None = None) -> Gen:
        """Keyed entry: the card's number, expiry month and year and (for a payment) its
        security code typed on the pinpad's keypad, each with GCD (ABECS §3.3.8).

        Choice (ABECS has no keyed-entry command in the classic family): GCD goes to
        every pinpad whatever the command family. The terminal checks only the lengths
        the prompts allow (12 to 19 digits, two and two, three or four); whether the
        number, the date and the code are right is the acquirer's to say, so a mistyped
        card is declined with the reason rather than refused on the keypad.
        """
        self.chip_pending = False
        pan = yield from self.host.gcd(GCD_CARD_NUMBER, 12, 19, timeout)
        self.world.redactor.add_pan(pan)  # typed card data is card data: masked
        month = yield from self.host.gcd(GCD_MONTH, 2, 2, timeout)
        year = yield from self.host.gcd(GCD_YEAR, 2, 2, timeout)
        code = ""
        if security_code:
            code = yield from self.host.gcd(GCD_SECURITY_CODE, 3, 4, timeout)
        card = KeyedCard(pan, year + month, code)
        self.emit(ev.CardKeyed(self.world.now, card.masked))
        return card

    def authorise_keyed(self, card: KeyedCard, amount: int, kind: str = "sale",
                        key: str | None = None, currency: int | None = None,
                        when: datetime.datetime | None = None) -> Gen:
        """Ask the acquirer for a keyed payment (no cryptogram: entry mode keyed)."""
        self.emit(ev.HostRequested(self.world.now, amount, kind))
        date, _ = _stamp(when or self.now())
        request = card.auth_request(amount, currency or self.settings.currency, date)
        kw: dict[str, Any] = {"kind": kind} if kind != "sale" else {}
        if key is not None:
            kw["key"] = key
        rsp = self.acquirer.authorise(request, **kw)
        self.emit(ev.HostAnswered(self.world.now, bool(rsp is not None and rsp.approved),
                                  rsp.arc if rsp is not None else "",
                                  (rsp.reference or "") if rsp is not None else ""))
        return rsp
        yield  # pragma: no cover - a generator, so a timed host can be swapped in

    def refund_keyed(self, card: KeyedCard, amount: int, key: str,
                     currency: int | None = None,
                     when: datetime.datetime | None = None) -> Any:
        """Book a credit to a keyed card; returns the acquirer's ledger entry."""
        self.emit(ev.HostRequested(self.world.now, amount, "refund"))
        date, _ = _stamp(when or self.now())
        entry = self.acquirer.refund_to_card(
            card.auth_request(amount, currency or self.settings.currency, date), key=key)
        self.emit(ev.HostAnswered(self.world.now, bool(entry.approved), "",
                                  getattr(entry, "ref", "")))
        return entry

    def _secret(self, card: m.GcrResponse) -> None:
        red = self.world.redactor
        red.add_pan(card.pan)
        for track in (card.track2, card.track1):
            if track:
                red.add_secret(track)

    def enter_pin(self, card: m.GcrResponse) -> Gen:
        """GPN: an online PIN for a stripe card."""
        s = self.settings
        self._derived(ev.PinEntryStarted(self.world.now, "online"))
        pin = yield from self.host.gpn(m.GpnRequest(card.pan, s.pin_method, s.pin_key,
                                                    working_key=s.working_key))
        self.world.redactor.add_secret(pin.pin_block)
        self.world.redactor.add_secret(pin.pin_block.hex().upper())
        self._derived(ev.PinEntered(self.world.now, "****"))
        return pin

    def go_on_chip(self, card: m.GcrResponse, amount: int, tables: Tables | None = None) -> Gen:
        """GOC: the card's first decision (and its PIN, its cryptogram)."""
        s = self.settings
        floor = s.floor_limit
        if floor is None:
            floor = tables.floor_limit(card.acq_idx, card.rec_idx) if tables else 0
        req = m.GocRequest(amount, s.goc_tags, method=s.pin_method, key_idx=s.pin_key,
                           working_key=s.working_key,
                           risk_management=s.risk_management, floor_limit=floor,
                           target_pct=s.target_pct, threshold=s.threshold,
                           max_target_pct=s.max_target_pct)
        if s.command_family == "abecs":
            goc = yield from self.host.gox_as_goc(req, card.acq_idx)
        else:
            goc = yield from self.host.goc(req)
        self.chip_pending = True
        if goc.online_pin:
            self.world.redactor.add_secret(goc.pin_block)
            self.world.redactor.add_secret(goc.pin_block.hex().upper())
        if goc.online_pin or goc.offline_pin:
            kind = "online" if goc.online_pin else "offline"
            self._derived(ev.PinEntryStarted(self.world.now, kind))
            self._derived(ev.PinEntered(self.world.now, "****"))
        if goc.signature:
            self.emit(ev.SignatureRequired(self.world.now))
        if goc.decision != m.DECISION_ONLINE:
            self.emit(ev.CardDecided(self.world.now, goc.decision == m.DECISION_APPROVED))
        return goc

    def authorise(self, processed: Processed, amount: int, kind: str = "sale",
                  key: str | None = None, currency: int | None = None,
                  link: Any = None) -> Gen:
        """Ask the acquirer; returns its :class:`IssuerResponse` or None (no answer).

        ``link`` (a :class:`virtual_devices.acquirer.link.HostLink`) carries the request
        over a line with its round trip, the terminal's host timeout and the timeout
        reversal; without it the acquirer answers at once -- unless the world's line to
        the acquirer has a back-end fault in place (:func:`~virtual_devices.acquirer.
        link.set_line_fault`), which then acts on this request too. That line has no
        round trip of its own: the servers that call this wait their host round trip
        themselves, so only the fault's time (late, silent, refused) is added.
        """
        self.emit(ev.HostRequested(self.world.now, amount, kind))
        request = processed.auth_request(amount, currency or self.settings.currency)
        if link is None and hasattr(self.acquirer, "ledger"):
            from virtual_devices.acquirer.link import HostLink, line_fault

            if line_fault(self.world).mode != "none":
                link = HostLink(self.world, self.acquirer, roundtrip=0.0,
                                name="terminal.acquirer")
        if link is not None:
            rsp = yield from link.authorise(request, kind, key or f"auto-{id(request)}")
        else:
            kw: dict[str, Any] = {}
            if kind != "sale":
                kw["kind"] = kind
            if key is not None:
                kw["key"] = key
            rsp = self.acquirer.authorise(request, **kw)
        self.emit(ev.HostAnswered(self.world.now, bool(rsp is not None and rsp.approved),
                                  rsp.arc if rsp is not None else "",
                                  (rsp.reference or "") if rsp is not None else ""))
        return rsp
        yield  # pragma: no cover - a generator, so a timed host can be swapped in

    def finish_chip(self, answer: HostAnswer) -> Gen:
        """FNC with the host's answer: the card's second decision."""
        self.chip_pending = False
        req = answer.fnc(self.settings.fnc_tags)
        if self.settings.command_family == "abecs":
            fnc = yield from self.host.fcx_as_fnc(req)
        else:
            fnc = yield from self.host.fnc(req)
        self.emit(ev.CardDecided(self.world.now, fnc.decision == 0))
        return fnc

    def remove_card(self, approved: bool | None = None) -> Gen:
        """RMC with the text for the outcome (the settings' removal text when None)."""
        s = self.settings
        text = s.removal_text
        if approved is True and s.approved_text is not None:
            text = s.approved_text
        elif approved is False and s.declined_text is not None:
            text = s.declined_text
        self._derived(ev.DisplayChanged(self.world.now, text.strip()))
        yield from self.host.rmc(text)
        self._derived(ev.CardRemoved(self.world.now))

    def cancel(self) -> Gen:
        """CAN: the blocking command running ends with 013 (§4.2)."""
        yield from self.host.cancel()
        self.emit(ev.Cancelled(self.world.now))

    def reverse(self, reference: str, key: str | None = None) -> bool:
        """Take an approval back at the acquirer (the card or the merchant refused it).

        ``key`` is the transaction's key (the one its authorisation was sent with); the
        reversal is sent under its own key derived from it. Sending it under the very
        key of the authorisation would make the host's idempotency answer with the
        authorisation itself, and the charge would stay booked.
        """
        if not reference or not hasattr(self.acquirer, "reverse"):
            return False
        if key is None:
            self.acquirer.reverse(reference)
        else:
            self.acquirer.reverse(reference, key=f"reversal-{key}")
        self.emit(ev.Reversed(self.world.now, reference))
        return True

    # -- the split steps -------------------------------------------------------------------
    def process(
        self,
        amount: int,
        tables: Tables,
        when: datetime.datetime | None = None,
        *,
        app_type: int,
        apps: tuple[tuple[int, str], ...] = (),
        stripe_pin: bool | Callable[[m.GcrResponse], bool] = True,
        check_tables: bool = True,
        steps: list[str] | None = None,
    ) -> Gen:
        """Step one: tables, GCR, then GOC for a chip or GPN for a stripe that wants a
        PIN. Returns :class:`Processed`; the caller asks its host, then :meth:`finish`.
        ``app_type`` is GCR's application type filter (99: every application), which
        each caller states."""
        steps = steps if steps is not None else []
        if check_tables:
            yield from self.ensure_tables(tables)
        card = yield from self.read_card(amount, tables, when, app_type, apps, steps)
        done = Processed(card)
        self.last = done
        if card.card_type in STRIPE_TYPES:
            wants = stripe_pin(card) if callable(stripe_pin) else stripe_pin
            if wants:
                done.pin = yield from self.enter_pin(card)
                steps.append("GPN")
            return done
        done.goc = yield from self.go_on_chip(card, amount, tables)
        steps.append(f"GOC decision {done.goc.decision}")
        return done

    def finish(self, answer: HostAnswer, approved: bool | None = None) -> Gen:
        """Step two: FNC with the host's answer when a chip waits for it, then RMC.

        Pinpad errors do not stop it (RMC always goes, so the slot is cleared); they are
        collected in :attr:`Finished.errors`. ``approved`` picks RMC's text.
        """
        out = Finished()
        if self.chip_pending:
            try:
                out.fnc = yield from self.finish_chip(answer)
            except AbecsError as err:
                out.errors.append(err)
            except (m.CodecError, ValueError, IndexError):
                pass  # an answer that cannot be read: the card's verdict is not claimed
            else:
                out.declined_by_card = (answer.comm_status != 1
                                        and out.fnc.decision == m.DECISION_DECLINED)
        try:
            yield from self.remove_card(approved)
        except AbecsError as err:
            out.errors.append(err)
        return out

    # -- whole operations ---------------------------------------------------------------------
    def sale(
        self,
        amount: int,
        tables: Tables,
        when: datetime.datetime | None = None,
        app_type: int = 99,
        stripe_pin: bool = True,
        check_tables: bool = True,
        kind: str = "sale",
        key: str | None = None,
    ) -> Gen:
        """A whole payment: process, the acquirer, FNC, RMC; a pre-authorisation with
        ``kind="preauth"``. Returns :class:`SaleResult`; an approval the card cannot
        finish is reversed (EMV Book 4 §12.2.2)."""
        res = SaleResult()
        approval: Any = None  # the acquirer's approval while the card still has to finish
        try:
            done = yield from self.process(amount, tables, when, app_type=app_type,
                                           stripe_pin=stripe_pin, check_tables=check_tables,
                                           steps=res.steps)
            card = done.card
            res.card, res.card_type, res.pan, res.pin, res.goc = (card, card.card_type,
                                                                  card.pan, done.pin, done.goc)
            if not done.chip:
                rsp = yield from self.authorise(done, amount, kind, key)
                self._answered(res, rsp)
                res.approved = rsp is not None and rsp.approved
                self.emit(ev.TransactionEnded(self.world.now, res.approved))
                return res
            goc = done.goc
            assert goc is not None
            res.signature = goc.signature
            if goc.decision == m.DECISION_ONLINE:
                rsp = yield from self.authorise(done, amount, kind, key)
                self._answered(res, rsp)
                approval = rsp if rsp is not None and rsp.approved else None
                res.fnc = yield from self.finish_chip(HostAnswer.from_issuer(rsp))
                approval = None
                res.steps.append(f"FNC decision {res.fnc.decision}")
                res.approved = res.fnc.decision == 0
                if (not res.approved and rsp is not None and rsp.arc in APPROVING_ARCS
                        and rsp.approved):
                    # the card refused what the host approved: take it back
                    res.reversed = self.reverse(rsp.reference or "", key)
            else:
                res.approved = goc.decision == m.DECISION_APPROVED
            if res.approved and goc.signature:
                ok = yield from self.choices.confirm_signature()
                if not ok:
                    res.approved = False
                    res.reversed = self.reverse(res.reference, key)
            yield from self.remove_card(res.approved)
            res.steps.append("RMC")
        except AbecsError as exc:
            res.error = exc.code
            res.steps.append(f"error {exc.code:03d} on {exc.command}")
            if approval is not None and approval.reference:
                # The issuer approved but FNC failed (card mute or pulled out before the
                # second GENERATE AC): the sale did not complete, so the host reverses it.
                res.reversed = self.reverse(approval.reference, key)
                if res.reversed:
                    res.steps.append(f"reversal of {approval.reference}")
        self.emit(ev.TransactionEnded(self.world.now, res.approved,
                                      "" if res.error is None else f"status {res.error:03d}"))
        return res

    def _answered(self, res: SaleResult, rsp: Any) -> None:
        res.host_answered = rsp is not None
        if rsp is not None:
            res.arc = rsp.arc
            res.reference = rsp.reference or ""

    def capture(self, reference: str, amount: int, key: str) -> Any:
        """Complete a pre-authorisation (no card: the hold becomes a sale)."""
        self.emit(ev.HostRequested(self.world.now, amount, "capture"))
        entry = self.acquirer.capture(reference, amount, key)
        self.emit(ev.HostAnswered(self.world.now, bool(entry.approved), "",
                                  reference))
        return entry

    def read_for_refund(self, amount: int, tables: Tables,
                        when: datetime.datetime | None = None) -> Gen:
        """GCR only, for a standalone refund.

        Choice (the specs are silent on the card dialogue of a refund): no GOC. A refund
        is a credit, so there is no cardholder verification and nothing for the chip to
        authorise; ABECS GOC carries no transaction type that would make the kernel run
        a refund instead of a purchase. GCR has already selected the application and
        read the records (PAN, expiry, sequence number), all the acquirer needs.
        """
        card = yield from self.read_card(amount, tables, when)
        self.last = Processed(card)
        return card

    def refund_request(self, card: m.GcrResponse, amount: int,
                       currency: int | None = None) -> Any:
        """The acquirer's request for a credit to ``card`` (the AID from the PAN's RID)."""
        from virtual_devices.acquirer.host import rid_for_pan
        from virtual_devices.emv.kernel.messages import AuthRequest

        aid = rid_for_pan(card.pan)
        return AuthRequest(REFUND_INTERFACES.get(card.card_type, "contact"),
                           amount, currency or self.settings.currency, card.pan,
                           f"{card.pan_seq:02d}",
                           aid, {})

    def refund_to_card(self, card: m.GcrResponse, amount: int, key: str,
                       currency: int | None = None) -> Any:
        """Book a credit to the card read; returns the acquirer's ledger entry."""
        self.emit(ev.HostRequested(self.world.now, amount, "refund"))
        entry = self.acquirer.refund_to_card(self.refund_request(card, amount, currency),
                                             key=key)
        self.emit(ev.HostAnswered(self.world.now, bool(entry.approved), "",
                                  getattr(entry, "ref", "")))
        return entry


def settings_for(**changes: Any) -> Settings:
    """The default settings with ``changes`` (a server's wording of its commands)."""
    return replace(Settings(), **changes)
