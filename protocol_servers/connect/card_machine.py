"""The card path of a Connect terminal: the ONE place that drives the card machine.

A Paymentsense PDQ is a card machine: a payment application over a card reader. Here
that application is the project's terminal application (:mod:`virtual_devices.terminal`)
over a pinpad end (a virtual pinpad in memory, on a pty, or a real pinpad on a serial
path) that holds a virtual EMV card and a cardholder; online authorisations go to the
shared acquirer host, which checks the ARQC. The rest of the package asks this module
for steps (read the card, verify and authorise, remove the card, reverse) and hears
what happens on the terminal as events, which :mod:`notifications` turns into the
``terminalNotification`` values of paymentsense-connect.md §4.4.

Events (``on_event(name)``): ``card_inserted``, ``card_tapped``, ``card_swiped`` (the
terminal's ``CardPresented``), ``card_keyed`` (keyed entry done), ``pin_entry``
(``PinEntryStarted``: the pinpad prompts for the PIN), ``connecting``,
``connection_made``, ``host_answered`` (with the approval), ``card_removed``.

Every blocking step runs as its own process so that a cancel can CAN it (ABECS §2.2.4),
which is how the PDQ's red key ends a transaction before authorisation.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from simulator.masking import mask_pan
from simulator.world import World

if TYPE_CHECKING:
    from virtual_devices.terminal import PinpadEnd, Tables, Terminal

Gen = Generator[simpy.Event, Any, Any]
OnEvent = Callable[..., None]
SCHEMES = (("A0000000043060", "MAESTRO"), ("A0000000032010", "VISA"),
           ("A000000003", "VISA"), ("A000000004", "MASTERCARD"),
           ("A000000025", "AMEX"))
NUMERIC = {"GBP": 826, "EUR": 978}


class CardFailure(Exception):
    """A step ended without a payment: ``kind`` is cancelled, card_error, declined_by_card,
    declined, no_host or timeout (the customer walked away)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass
class CardRead:
    """What the reader learnt of the card (PAN kept only to send to the acquirer)."""

    pan: str
    masked: str
    pan_seq: str
    expiry: str  # MM/YY
    label: str
    aid: str
    scheme: str
    method: str  # ICC_CHIP, CONTACTLESS, SWIPED, KEYED
    card_type: int  # GCR's card type; -1 for a keyed card


@dataclass
class Authorisation:
    approved: bool
    cvm: str  # PIN, SIGNATURE, DEVICE, NONE
    reference: str = ""
    auth_code: str = ""
    arc: str = ""
    outcome: str = "SUCCESSFUL"  # or DECLINED, DECLINED_BY_CARD, NO_HOST
    aid: str = ""


def scheme_of(aid: str) -> str:
    for prefix, scheme in SCHEMES:
        if aid.upper().startswith(prefix):
            return scheme
    return "UNKNOWN"


def _guard(gen: Gen) -> Gen:
    try:
        return (yield from gen)
    except Exception as exc:  # AbecsError, link errors: mapped by the caller
        return exc


@dataclass
class CardMachine:
    world: World
    name: str
    end: PinpadEnd
    app: Terminal
    acquirer: Any
    tables: Tables
    cards: list[str] = field(default_factory=lambda: ["visa-chip-pin"])
    behaviour: dict[str, Any] = field(default_factory=dict)
    # the PDQ's delays, from the server's timings.toml (use_timings): PAC and PAT alike
    acquirer_roundtrip: float = field(init=False)
    connection_made: float = field(init=False)
    key_entry_timeout: float = field(init=False)
    on_event: OnEvent | None = None
    opened: bool = False
    # how the next card is entered: "card" (read) or "keyed" (the operator chose key
    # entry from the PDQ's menu on the present-card screen, §11's recipe)
    entry: str = "card"
    _running: simpy.Process | None = None

    def __post_init__(self) -> None:
        self.app.subscribe(self._observe)

    def use_timings(self, timings: Any) -> None:
        """The delays of a host call and the key-entry prompts' idle time (timings.toml)."""
        self.acquirer_roundtrip = timings["acquirer_roundtrip"]
        self.connection_made = timings["connection_made"]
        self.key_entry_timeout = timings["key_entry_timeout"]

    # -- the customer at the counter (control API) ---------------------------------------
    def choose_card(self, name: str, entry: str = "card", **behaviour: Any) -> None:
        """The next customer holds catalogue card ``name`` and acts per ``behaviour``;
        ``entry="keyed"``: the operator keys it on the PDQ instead of reading it."""
        from virtual_devices.emv.catalogue import catalogue

        if name not in catalogue():
            raise ValueError(f"no catalogue card {name!r}")
        if entry not in ("card", "keyed"):
            raise ValueError(f"entry is 'card' or 'keyed', not {entry!r}")
        for typed in behaviour.get("entries", ()):
            if len(str(typed)) >= 12:  # a card number to type is card data: masked from now
                self.world.redactor.add_pan(str(typed))
        self.cards = [name]
        self.entry = entry
        self.behaviour = dict(behaviour)

    def _hand_card(self) -> None:
        pinpad = self.end.pinpad
        if pinpad is None:
            return  # a real pinpad: a person holds the card
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        pinpad.cards.clear()
        profile = catalogue()[self.cards[0]]
        pinpad.customer = Customer.for_profile(self.world, profile, **self.behaviour)
        pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    def _observe(self, event: Any) -> None:
        from virtual_devices.terminal import events as ev

        if isinstance(event, ev.CardPresented):
            self._emit({"insert": "card_inserted", "tap": "card_tapped"}.get(
                event.how, "card_swiped"))
        elif isinstance(event, ev.PinEntryStarted):
            self._emit("pin_entry")

    def _emit(self, name: str, **info: Any) -> None:
        if self.on_event is not None:
            self.on_event(name, **info)

    # -- running one step so that it can be CANcelled -------------------------------------
    def _command(self, gen: Gen) -> Gen:
        proc = self.world.process(_guard(gen))
        self._running = proc
        result = yield proc
        self._running = None
        if isinstance(result, Exception):
            raise self._failure(result)
        return result

    @staticmethod
    def _failure(exc: Exception) -> CardFailure:
        from virtual_devices.abecs import messages as m

        code = getattr(exc, "code", None)
        if code == m.ST_CANCEL:
            return CardFailure("cancelled", "cancelled on the terminal")
        if code == m.ST_TIMEOUT:
            return CardFailure("timeout", "the customer did not act in time")
        if code == m.ST_CARDBLOCKED:
            return CardFailure("card_error", "card blocked")
        return CardFailure("card_error", f"{type(exc).__name__} {code if code is not None else ''}")

    def cancel(self) -> Gen:
        """The terminal's cancel: CAN the blocking step that runs, if any."""
        proc = self._running
        if proc is not None and not proc.triggered:
            yield self.world.process(_guard(self.app.cancel()))

    # -- steps ----------------------------------------------------------------------------
    def prepare(self) -> Gen:
        if not self.opened:
            yield from self._command(self.app.host.opn())
            self.opened = True
        yield from self._command(self.app.ensure_tables(self.tables))

    def read_card(self, amount: int) -> Gen:
        """GCR: PRESENT_CARD until the customer inserts, taps or swipes."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.acquirer.host import rid_for_pan

        self._hand_card()
        # ABECS GCR takes a positive amount only (messages.py: error 77): a zero-value
        # account verification shows the smallest amount while the card is read
        card = yield from self._command(self.app.read_card(max(amount, 1), self.tables))
        self._card = card
        how = {m.CARD_ICC: "ICC_CHIP", m.CARD_CTLS_EMV: "CONTACTLESS",
               m.CARD_CTLS_MAG: "CONTACTLESS"}.get(card.card_type, "SWIPED")
        aid = rid_for_pan(card.pan).hex().upper()
        exp = card.expiry or "000000"
        return CardRead(card.pan, "*" * 12 + card.pan[-4:], f"{card.pan_seq:02d}",
                        f"{exp[2:4]}/{exp[:2]}", card.app_label.strip() or scheme_of(aid),
                        aid, scheme_of(aid), how, card.card_type)

    def key_card(self, security_code: bool = True) -> Gen:
        """Keyed entry on the pinpad's keypad (GCD): number, expiry, security code."""
        from virtual_devices.acquirer.host import rid_for_pan

        self._hand_card()
        keyed = yield from self._command(self.app.key_card(
            security_code, int(self.key_entry_timeout)))
        self._keyed = keyed
        self._emit("card_keyed")
        aid = rid_for_pan(keyed.pan).hex().upper()
        scheme = scheme_of(aid)
        # no application was selected: the label and the AID of a result stay empty
        return CardRead(keyed.pan, "*" * 12 + keyed.pan[-4:], "", keyed.expiry_mm_yy,
                        "", "", scheme, "KEYED", -1)

    def _host_call(self) -> Gen:
        self._emit("connecting")
        yield self.world.timeout(self.connection_made)
        self._emit("connection_made")
        yield self.world.timeout(self.acquirer_roundtrip)

    def authorise(self, card: CardRead, kind: str, amount: int, cashback: int,
                  currency: str, key: str,
                  proceed: Callable[[], bool] = lambda: True) -> Gen:
        """GOC (PIN), the acquirer (ARQC checked), FNC. ``kind``: sale, preauth, authorisation.

        Returns an :class:`Authorisation`; ``proceed`` is asked once more before going
        online (a cancel that came during PIN entry stops here).
        """
        from virtual_devices.abecs import messages as m
        from virtual_devices.emv import tlv
        from virtual_devices.terminal import HostAnswer, Processed

        if card.method == "KEYED":
            return (yield from self._authorise_keyed(card, kind, amount, currency, key,
                                                     proceed))
        if card.card_type not in (m.CARD_ICC, m.CARD_CTLS_EMV):
            raise CardFailure("card_not_supported",
                              "this terminal takes chip cards only (no stripe fallback)")
        gcr = self._card
        goc = yield from self._command(self.app.go_on_chip(gcr, amount, self.tables))
        emv = tlv.flatten(goc.emv_data)
        aid = (emv.get(0x84) or emv.get(0x4F) or bytes.fromhex(card.aid)).hex().upper()
        pin = goc.offline_pin or goc.online_pin
        cvm = ("PIN" if pin else "SIGNATURE" if goc.signature
               else "DEVICE" if card.method == "CONTACTLESS" and _cdcvm(emv) else "NONE")
        if goc.decision == m.DECISION_DECLINED:
            if goc.pin_blocked:
                raise CardFailure("card_error", "PIN tries exceeded")
            return Authorisation(False, cvm, outcome="DECLINED_BY_CARD", aid=aid)
        if goc.decision != m.DECISION_ONLINE:
            raise CardFailure("card_error", "offline approval is not taken by this terminal")
        if not proceed():
            raise CardFailure("cancelled", "cancelled before authorisation")
        yield from self._host_call()
        rsp = yield from self.app.authorise(Processed(gcr, goc), amount, kind, key,
                                            NUMERIC[currency])
        self._emit("host_answered", approved=bool(rsp is not None and rsp.approved))
        try:
            done = yield from self._command(self.app.finish_chip(HostAnswer.from_issuer(rsp)))
        except CardFailure:
            if rsp is not None and rsp.approved:
                self.reverse(rsp.reference)  # approved, but the card never finished
            raise
        if rsp is None:
            return Authorisation(False, cvm, outcome="NO_HOST", aid=aid)
        if not rsp.approved:
            return Authorisation(False, cvm, rsp.reference, "", rsp.arc, "DECLINED", aid)
        if done.decision != 0:
            self.reverse(rsp.reference)  # the card refused what the issuer approved
            return Authorisation(False, cvm, rsp.reference, "", rsp.arc, "DECLINED_BY_CARD",
                                 aid)
        return Authorisation(True, cvm, rsp.reference, rsp.auth_code, rsp.arc, "SUCCESSFUL", aid)

    def _authorise_keyed(self, card: CardRead, kind: str, amount: int, currency: str,
                         key: str, proceed: Callable[[], bool]) -> Gen:
        """A keyed card goes online as it is: no chip, no PIN, no card to finish."""
        if not proceed():
            raise CardFailure("cancelled", "cancelled before authorisation")
        yield from self._host_call()
        rsp = yield from self.app.authorise_keyed(self._keyed, amount, kind, key,
                                                  NUMERIC[currency])
        self._emit("host_answered", approved=bool(rsp is not None and rsp.approved))
        if rsp is None:
            return Authorisation(False, "NONE", outcome="NO_HOST")
        if not rsp.approved:
            return Authorisation(False, "NONE", rsp.reference, "", rsp.arc, "DECLINED")
        return Authorisation(True, "NONE", rsp.reference, rsp.auth_code, rsp.arc,
                             "SUCCESSFUL")

    def credit(self, card: CardRead, amount: int, currency: str, key: str) -> Gen:
        """A refund: a credit booked at the acquirer for the card read (or keyed)."""
        yield from self._host_call()
        if card.method == "KEYED":
            entry = self.app.refund_keyed(self._keyed, amount, key, NUMERIC[currency])
        else:
            entry = self.app.refund_to_card(self._card, amount, key, NUMERIC[currency])
        self._emit("host_answered", approved=entry.approved)
        return Authorisation(entry.approved, "NONE", entry.ref,
                             str(entry.meta.get("auth_code", "")), entry.response_code,
                             "SUCCESSFUL" if entry.approved else "DECLINED", card.aid)

    def capture(self, reference: str, amount: int, key: str) -> Gen:
        """Completion of a pre-authorisation held at the acquirer."""
        yield from self._host_call()
        entry = self.app.capture(reference, amount, key)
        self._emit("host_answered", approved=entry.approved)
        return Authorisation(entry.approved, "NONE", entry.ref, "", entry.response_code,
                             "SUCCESSFUL" if entry.approved else "DECLINED")

    def remove_card(self, approved: bool) -> Gen:
        """RMC: the customer takes the card back (a failure here changes nothing)."""
        result = yield self.world.process(_guard(self.app.remove_card(approved)))
        if isinstance(result, Exception):
            self.opened = False  # the link failed: open a fresh session next time
        self._emit("card_removed")

    def reverse(self, reference: str) -> None:
        if reference:
            self.app.reverse(reference)

    def close(self) -> None:
        self.end.close()


CTQ = 0x9F6C  # Card Transaction Qualifiers (Visa contactless)


def _cdcvm(emv: dict[int, bytes]) -> bool:
    """Visa CTQ (9F6C) byte 2 bit 8: the consumer's device verified the cardholder."""
    ctq = emv.get(CTQ, b"")
    return len(ctq) > 1 and bool(ctq[1] & 0x80)


def _tables(acquirer: Any) -> Tables:
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.terminal import Tables

    cfg = acquirer.terminal_config()
    return Tables(cfg.table_version[:10].ljust(10, "0"), tuple(records_from_config(cfg)))


def make_machine(world: World, name: str, acquirer: Any, cards: list[str],
                 behaviour: dict[str, Any] | None = None, kind: str = "memory",
                 device: str | None = None, link_dir: str | None = None,
                 currency: str = "GBP") -> CardMachine:
    """A card machine over a pinpad end: ``memory`` (virtual mode), ``pty`` (realtime,
    the virtual pinpad on a real serial line) or ``serial`` (a real pinpad at ``device``;
    the cardholder is a person)."""
    from virtual_devices.terminal import GOC_TAGS, Settings, pinpad_end
    from virtual_devices.terminal.app import SIM_EPOCH

    end = pinpad_end(world, kind, device=device, name=name, link_dir=link_dir)  # type: ignore[arg-type]
    # GOC also returns the CTQ (9F6C): a phone's tap says there that it verified the
    # cardholder itself, which Connect reports as cardHolderVerificationMethod DEVICE
    settings = Settings(currency=NUMERIC[currency], approved_text="APPROVED",
                        declined_text="NOT APPROVED", epoch=SIM_EPOCH,
                        goc_tags=(*GOC_TAGS, CTQ))
    app = end.terminal(acquirer, settings)
    return CardMachine(world, name, end, app, acquirer, _tables(acquirer),
                       list(cards), dict(behaviour or {}))


__all__ = ["Authorisation", "CardFailure", "CardMachine", "CardRead", "make_machine",
           "mask_pan"]
