"""The card path of a Connect terminal: the ONE place that drives a pinpad.

A Paymentsense PDQ is a card machine: a payment application over a card reader. Until
the shared terminal application lands, this adapter is that application, written over
the project's ABECS host (:mod:`virtual_devices.abecs`) and a virtual pinpad that holds
a virtual EMV card and a cardholder; online authorisations go to the shared acquirer
host, which checks the ARQC. Everything else in the package asks this module for steps
(read the card, verify and authorise, remove the card, reverse) and hears what happens
on the terminal as events, which :mod:`notifications` turns into the
``terminalNotification`` values of paymentsense-connect.md §4.4.

Events (``on_event(name)``): ``card_inserted``, ``card_tapped``, ``card_swiped``,
``pin_entry`` (the pinpad shows its PIN prompt), ``connecting``, ``connection_made``,
``host_answered`` (with the approval), ``card_removed``.

Every blocking ABECS command runs as its own process so that a cancel can CAN it
(ABECS §2.2.4), which is how the PDQ's red key ends a transaction before authorisation.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from simulator.masking import mask_pan
from simulator.streams import ByteEnd, byte_link
from simulator.world import World
from virtual_devices.abecs.display import Display, Screen

if TYPE_CHECKING:
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.pinpad import Pinpad

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
    method: str  # ICC_CHIP, CONTACTLESS, SWIPED
    card_type: int


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


class _WatchedDisplay(Display):
    """The pinpad's display, telling the terminal what the customer is asked to do."""

    def __init__(self, world: World, hook: Callable[[Screen], None]) -> None:
        super().__init__(world)
        self.hook = hook

    def _set(self, l1: str, l2: str) -> Screen:
        screen = super()._set(l1, l2)
        self.hook(screen)
        return screen


def _guard(gen: Gen) -> Gen:
    try:
        return (yield from gen)
    except Exception as exc:  # AbecsError, link errors: mapped by the caller
        return exc


@dataclass
class CardMachine:
    world: World
    name: str
    host: AbecsHost
    acquirer: Any
    pinpad: Pinpad | None
    cards: list[str] = field(default_factory=lambda: ["visa-chip-pin"])
    behaviour: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    records: list[bytes] = field(default_factory=list)
    acquirer_roundtrip: float = 1.2
    connection_made: float = 0.3
    on_event: OnEvent | None = None
    opened: bool = False
    _running: simpy.Process | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    # -- the customer at the counter (control API) ---------------------------------------
    def choose_card(self, name: str, **behaviour: Any) -> None:
        """The next customer holds catalogue card ``name`` and acts per ``behaviour``."""
        from virtual_devices.emv.catalogue import catalogue

        if name not in catalogue():
            raise ValueError(f"no catalogue card {name!r}")
        self.cards = [name]
        self.behaviour = dict(behaviour)

    def _hand_card(self) -> None:
        if self.pinpad is None:
            return  # a real pinpad: a person holds the card
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        self.pinpad.cards.clear()
        profile = catalogue()[self.cards[0]]
        self.pinpad.customer = Customer.for_profile(self.world, profile, **self.behaviour)
        self.pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    def _screen(self, screen: Screen) -> None:
        if "SENHA:" in screen.line2 and "*" not in screen.line2:
            self._emit("pin_entry")

    def _emit(self, name: str, **info: Any) -> None:
        if self.on_event is not None:
            self.on_event(name, **info)

    # -- running one ABECS command so that it can be CANcelled -------------------------
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
        """The terminal's cancel: CAN the blocking command that runs, if any."""
        proc = self._running
        if proc is not None and not proc.triggered:
            yield self.world.process(_guard(self.host.cancel()))

    # -- steps ----------------------------------------------------------------------------
    def prepare(self) -> Gen:
        from virtual_devices.abecs.flows import ensure_tables

        if not self.opened:
            yield from self._command(self.host.opn())
            self.opened = True
        yield from self._command(ensure_tables(self.host, self.version, self.records))

    def read_card(self, amount: int, when: str) -> Gen:
        """GCR: PRESENT_CARD until the customer inserts, taps or swipes."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.acquirer.host import rid_for_pan

        self._hand_card()
        date, time = when[:6], when[6:12]
        # ABECS GCR takes a positive amount only (messages.py: error 77): a zero-value
        # account verification shows the smallest amount while the card is read
        card = yield from self._command(self.host.gcr(m.GcrRequest(max(amount, 1), date, time,
                                                                   self.version)))
        self.world.redactor.add_pan(card.pan)
        how = {m.CARD_ICC: "ICC_CHIP", m.CARD_CTLS_EMV: "CONTACTLESS",
               m.CARD_CTLS_MAG: "CONTACTLESS"}.get(card.card_type, "SWIPED")
        self._emit({"ICC_CHIP": "card_inserted", "CONTACTLESS": "card_tapped"}.get(
            how, "card_swiped"))
        aid = rid_for_pan(card.pan).hex().upper()
        exp = card.expiry or "000000"
        return CardRead(card.pan, "*" * 12 + card.pan[-4:], f"{card.pan_seq:02d}",
                        f"{exp[2:4]}/{exp[:2]}", card.app_label.strip() or scheme_of(aid),
                        aid, scheme_of(aid), how, card.card_type)

    def authorise(self, card: CardRead, kind: str, amount: int, cashback: int,
                  currency: str, key: str,
                  proceed: Callable[[], bool] = lambda: True) -> Gen:
        """GOC (PIN), the acquirer (ARQC checked), FNC. ``kind``: sale, preauth, authorisation.

        Returns an :class:`Authorisation`; the caller decides on cancel before it starts.
        """
        from virtual_devices.abecs import messages as m
        from virtual_devices.abecs.flows import FNC_TAGS, GOC_TAGS
        from virtual_devices.emv import tlv
        from virtual_devices.emv.kernel.messages import AuthRequest

        if card.card_type not in (m.CARD_ICC, m.CARD_CTLS_EMV):
            raise CardFailure("card_error", "this terminal takes chip and contactless only")
        # an account verification is a zero-value check the issuer must see: forced online
        goc = yield from self._command(self.host.goc(m.GocRequest(
            amount, GOC_TAGS, cashback=cashback, force_online=kind == "authorisation")))
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
        self._emit("connecting")
        yield self.world.timeout(self.connection_made)
        self._emit("connection_made")
        yield self.world.timeout(self.acquirer_roundtrip)
        request = AuthRequest("contactless" if card.card_type == m.CARD_CTLS_EMV else "contact",
                              amount, NUMERIC[currency], card.pan, card.pan_seq,
                              bytes.fromhex(aid), emv,
                              pin_block=goc.pin_block if goc.online_pin else None,
                              ksn=goc.ksn if goc.online_pin else None)
        rsp = self.acquirer.authorise(request, kind=kind, key=key)
        self._emit("host_answered", approved=bool(rsp is not None and rsp.approved))
        if rsp is None:
            fnc = m.FncRequest(1, "00", b"", FNC_TAGS)
        else:
            iss = tlv.encode(0x91, rsp.issuer_auth_data) if rsp.issuer_auth_data else b""
            iss += b"".join(rsp.scripts_71) + b"".join(rsp.scripts_72)
            fnc = m.FncRequest(0 if rsp.approved or rsp.arc == "00" else 9, rsp.arc, iss,
                               FNC_TAGS)
        try:
            done = yield from self._command(self.host.fnc(fnc))
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

    def credit(self, card: CardRead, amount: int, currency: str, key: str) -> Gen:
        """A card-present refund: a credit booked at the acquirer for the card read."""
        from virtual_devices.emv.kernel.messages import AuthRequest

        self._emit("connecting")
        yield self.world.timeout(self.connection_made)
        self._emit("connection_made")
        yield self.world.timeout(self.acquirer_roundtrip)
        request = AuthRequest("contact", amount, NUMERIC[currency], card.pan, card.pan_seq,
                              bytes.fromhex(card.aid), {})
        entry = self.acquirer.refund_to_card(request, key=key)
        self._emit("host_answered", approved=entry.approved)
        return Authorisation(entry.approved, "NONE", entry.ref,
                             str(entry.meta.get("auth_code", "")), entry.response_code,
                             "SUCCESSFUL" if entry.approved else "DECLINED", card.aid)

    def capture(self, reference: str, amount: int, key: str) -> Gen:
        """Completion of a pre-authorisation held at the acquirer."""
        self._emit("connecting")
        yield self.world.timeout(self.connection_made)
        self._emit("connection_made")
        yield self.world.timeout(self.acquirer_roundtrip)
        entry = self.acquirer.capture(reference, amount, key)
        self._emit("host_answered", approved=entry.approved)
        return Authorisation(entry.approved, "NONE", entry.ref, "", entry.response_code,
                             "SUCCESSFUL" if entry.approved else "DECLINED")

    def remove_card(self, approved: bool) -> Gen:
        """RMC: the customer takes the card back (a failure here changes nothing)."""
        result = yield self.world.process(_guard(self.host.rmc("APPROVED" if approved
                                                                else "NOT APPROVED")))
        if isinstance(result, Exception):
            self.opened = False  # the link failed: open a fresh session next time
        self._emit("card_removed")

    def reverse(self, reference: str) -> None:
        if reference:
            self.acquirer.reverse(reference)

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()


def _cdcvm(emv: dict[int, bytes]) -> bool:
    """Visa CTQ (9F6C) byte 2 bit 8: the consumer's device verified the cardholder."""
    ctq = emv.get(0x9F6C, b"")
    return len(ctq) > 1 and bool(ctq[1] & 0x80)


def _tables(machine: CardMachine) -> None:
    from virtual_devices.abecs.tables import records_from_config

    cfg = machine.acquirer.terminal_config()
    machine.version = cfg.table_version[:10].ljust(10, "0")
    machine.records = records_from_config(cfg)


def virtual_machine(world: World, name: str, acquirer: Any, cards: list[str],
                    behaviour: dict[str, Any] | None = None) -> CardMachine:
    """A pinpad and its host on an in-memory serial line (virtual mode)."""
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    holder: list[Pinpad] = []
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    host_end, pad_end = byte_link(world, f"{name}.host", f"{name}.pinpad", labeler=labeler)
    pinpad = Pinpad(world, pad_end, name=f"{name}.pinpad")
    holder.append(pinpad)
    machine = CardMachine(world, name, AbecsHost(world, host_end), acquirer, pinpad,
                          list(cards), dict(behaviour or {}))
    pinpad.display = _WatchedDisplay(world, machine._screen)
    pinpad.start()
    _tables(machine)
    return machine


def pty_machine(world: World, name: str, acquirer: Any, cards: list[str],
                behaviour: dict[str, Any] | None = None,
                link_dir: str | None = None) -> tuple[CardMachine, str]:
    """Realtime: the virtual pinpad on the device side of a pty pair; returns its path."""
    from simulator.ports.pty import PtyPair, open_serial_end
    from virtual_devices.abecs.host import AbecsHost
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    pair = PtyPair(link_dir=link_dir, names=(f"{name}-host", f"{name}-pinpad"))
    pair.open()
    holder: list[Pinpad] = []
    labeler = FrameLabeler(lambda: holder[0].session if holder else None)
    pad_end: ByteEnd = open_serial_end(world, pair.device_path, name=f"{name}.pinpad",
                                       labeler=labeler)
    host_end: ByteEnd = open_serial_end(world, pair.host_path, name=f"{name}.host",
                                        labeler=labeler)
    pinpad = Pinpad(world, pad_end, name=f"{name}.pinpad")
    holder.append(pinpad)
    machine = CardMachine(world, name, AbecsHost(world, host_end), acquirer, pinpad,
                          list(cards), dict(behaviour or {}))
    pinpad.display = _WatchedDisplay(world, machine._screen)
    world.inject(pinpad.start)
    machine._closers += [host_end.close, pad_end.close, pair.close]
    _tables(machine)
    return machine, pair.device_path


def serial_machine(world: World, name: str, acquirer: Any, path: str,
                   baud: int | None = None) -> CardMachine:
    """Realtime: a real ABECS pinpad on ``path``; the cardholder is a person."""
    from simulator.ports.pty import open_serial_end
    from virtual_devices.abecs.host import AbecsHost

    host_end = open_serial_end(world, path, name=f"{name}.host", baud=baud)
    machine = CardMachine(world, name, AbecsHost(world, host_end), acquirer, None, [])
    machine._closers.append(host_end.close)
    _tables(machine)
    return machine


__all__ = ["Authorisation", "CardFailure", "CardMachine", "CardRead", "mask_pan",
           "pty_machine", "serial_machine", "virtual_machine"]
