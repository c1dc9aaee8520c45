"""The card reader behind the agent: the one module that knows how the card is read.

GoChip's device plugins drive a USB reader (§B.2); ours is the project's terminal
application (:mod:`virtual_devices.terminal`) over a virtual ABECS pinpad (EMV kernel,
virtual card and cardholder inside) on an in-memory line in virtual mode, on a pty in
realtime mode, or over a real ABECS pinpad on a serial port. This module adapts that
application to the agent: ``connect`` (OPN, GIN, tables), ``read`` (GCR), ``go_on_chip``
(GOC), ``finish`` (FNC), ``remove_card`` (RMC) and ``cancel`` (CAN), each a SimPy
generator run as its own process so that a cancel can CAN it, plus the terminal's
events turned into GoChip ``RES_ON_MESSAGE`` values.

Terminal events -> ``RES_ON_MESSAGE`` (§B.4 step 7; only ``REMOVE_CARD`` is documented,
the others are ours, as §B.7 proposes): the card asked for -> ``PRESENT_CARD``; a card
inserted or tapped -> ``CARD_INSERTED``; PIN entry started -> ``ENTER_PIN`` (ours); the
host asked -> ``PROCESSING``; the "remove card" screen -> ``REMOVE_CARD``; a removal
prompt that timed out with the card still in -> ``CARD_NOT_REMOVED`` (ours). A real pinpad
on a serial line reports only what ABECS carries; the terminal derives the same events.

The application choice of a card with several applications is the kernel's: when it
asks, the terminal's ``choose_application`` comes here and :attr:`CardReader.choose_app`
(set by the agent) asks the POS (``RES_ON_SELECT_APPLICATION``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from simulator.world import World

if TYPE_CHECKING:
    from virtual_devices.abecs import messages as m
    from virtual_devices.terminal import PinpadEnd, Tables

Gen = Generator[simpy.Event, Any, Any]
MessageHook = Callable[[str], None]
ChooseHook = Callable[[list[str]], Generator[Any, Any, "int | None"]]
OURS = frozenset({"PRESENT_CARD", "CARD_INSERTED", "PROCESSING", "ENTER_PIN",
                  "CARD_NOT_REMOVED"})
REMOVAL_TEXT = "RETIRE O CARTAO"


@dataclass(frozen=True)
class DeviceInfo:
    serial_number: str
    kernel_version: str
    firmware_version: str
    model: str


class ReaderFailure(Exception):
    """The reader or the card ended the step; ``code`` is the ABECS status when known."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class TimedOut(ReaderFailure):
    """The step ran past its limit and was cancelled on the pinpad."""


def _tables(acquirer: Any, currency: int) -> Tables:
    """The acquirer's table set with the terminal's own currency in every AID record
    (5F2A: what the card's cryptogram covers and what the gateway is asked in)."""
    from dataclasses import replace

    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.terminal import Tables

    cfg = acquirer.terminal_config()
    cfg = cfg.with_aids(replace(p, currency=currency) for p in cfg.aids)
    return Tables(cfg.table_version[:10].ljust(10, "0"), tuple(records_from_config(cfg)))


class CardReader:
    """One reader the agent can connect: ``name`` is what ``portName`` picks."""

    def __init__(self, world: World, name: str, end: PinpadEnd, acquirer: Any,
                 cards: Sequence[str], currency: int) -> None:
        from virtual_devices.terminal import Settings

        self.world = world
        self.name = name
        self.end = end
        self.cards = tuple(cards)
        self._next_card = 0
        self._wallet: dict[str, Any] = {}  # the configured cards, once made (hand_card)
        # Choice: floor limit 0, so every chip sale goes online. The GoChip basic
        # transaction sends every chip sale to the gateway (§B.1 "Basic Transaction ...
        # encrypted to be sent to the gateway"); offline approval is a separate feature
        # (offline mode) this agent does not offer.
        settings = Settings(floor_limit=0, approved_text=None, declined_text=None,
                            removal_text=REMOVAL_TEXT, currency=currency)
        self.term = end.terminal(acquirer, settings, observer=self._event, choices=self)
        self.tables = _tables(acquirer, currency)
        self.on_message: MessageHook | None = None
        self.choose_app: ChooseHook | None = None
        self.lock = simpy.Resource(world.env, capacity=1)  # one card dialogue at a time
        self.owner: object | None = None  # the connection that connected it
        self.info: DeviceInfo | None = None
        self.opened = False
        self._running: simpy.Process | None = None
        self._last_message = ""

    @property
    def pinpad(self) -> Any:
        """The virtual pinpad in this world, or None for a real one on a serial port."""
        return self.end.pinpad

    @property
    def port(self) -> str:
        return self.end.port

    # -- what the terminal tells ---------------------------------------------------------
    def _event(self, event: Any) -> None:
        from virtual_devices.terminal import events as ev

        if isinstance(event, ev.CardRequested):
            self.tell("PRESENT_CARD")
        elif isinstance(event, ev.CardPresented):
            # Choice: a swipe is told as CARD_INSERTED too (the note lists no swipe
            # message; a POS reads it as "the card is being read")
            self.tell("CARD_INSERTED")
        elif isinstance(event, ev.PinEntryStarted):
            self.tell("ENTER_PIN")
        elif isinstance(event, ev.HostRequested):
            self.tell("PROCESSING")
        elif isinstance(event, ev.DisplayChanged) and "RETIRE" in event.text.upper():
            self.tell("REMOVE_CARD")

    def tell(self, message: str) -> None:
        if message == self._last_message:
            return
        self._last_message = message
        if self.on_message is not None:
            self.on_message(message)

    # -- the terminal's questions (virtual_devices.terminal.Choices) ------------------------
    def choose_application(self, labels: Sequence[str]) -> Generator[Any, Any, int | None]:
        if self.choose_app is None:
            return 0
        return (yield from self.choose_app(list(labels)))

    def confirm_signature(self) -> Generator[Any, Any, bool]:
        return True  # the agent asks its POS itself (RES_ON_SIGNATURE_REQUIRED)
        yield  # pragma: no cover

    # -- steps ------------------------------------------------------------------------
    def _step(self, gen: Gen, limit: float | None = None,
              late: str = "no card was presented in time") -> Gen:
        """Run one ABECS exchange as its own process (so a cancel can CAN it); past
        ``limit`` seconds it is cancelled and :class:`ReaderFailure` says ``late``."""
        def guarded() -> Gen:
            try:
                return (yield from gen)
            except Exception as exc:  # AbecsError, link errors: the caller maps them
                return exc

        proc = self.world.process(guarded())
        self._running = proc
        if limit is None:
            result = yield proc
        else:
            yield self.world.any_of([proc, self.world.timeout(limit)])
            if not proc.triggered:
                yield from self.cancel()
                raise TimedOut(late, None)
            result = proc.value
        self._running = None
        if isinstance(result, Exception):
            raise ReaderFailure(str(result), getattr(result, "code", None))
        return result

    def cancel(self) -> Gen:
        """CAN the exchange that is running, if any, and wait for it to end."""
        proc = self._running
        if proc is not None and not proc.triggered:
            def can() -> Gen:
                try:
                    yield from self.term.cancel()
                except Exception:  # noqa: BLE001 - a dead line: nothing left to cancel
                    return
            yield self.world.process(can())
            yield proc
        self._running = None

    def connect(self) -> Gen:
        """OPN, GIN and the tables: what ``REQ_INIT_DEVICE`` needs from the reader.

        Choice: every ``REQ_INIT_DEVICE`` opens a fresh session, as a device plugin that
        opens the USB reader does (the pinpad takes OPN at any time, without a CLO before
        it: mpos-bridge.md §4.5); a pinpad that rebooted since is found again that way.
        """
        yield from self._step(self.term.host.opn())
        self.opened = True
        info = yield from self.device_info()
        yield from self._step(self.term.ensure_tables(self.tables))
        return info

    def device_info(self) -> Gen:
        # Choice: ABECS GIN has no kernel field of its own; the pinpad's application
        # version (the EMV application that runs the kernel) is its kernel version, and
        # its OS version is the firmware.
        gin = yield from self._step(self.term.host.gin(0))
        self.info = DeviceInfo(gin.serial, gin.app_version, gin.os_version,
                               f"{gin.manufacturer} {gin.model}".strip())
        return self.info

    def read(self, amount: int, when: Any, limit: float, tap: bool = True) -> Gen:
        """GCR: wait for the card, select the application, read its records. ``tap``
        False keeps the pinpad's antenna off (GCR_CTLSON 0): only insert or swipe."""
        self._last_message = ""
        if not self.opened:
            # the link failed since (a pinpad that rebooted has no session): open a
            # fresh one before the card is asked for, as a host does after a link error
            yield from self._step(self.term.host.opn())
            self.opened = True
        self.hand_card()
        card: m.GcrResponse = yield from self._step(
            self.term.read_card(amount, self.tables, when, ctls=None if tap else False),
            limit)
        return card

    def read_without_amount(self, when: Any, limit: float) -> Gen:
        """Read a card with no payment (a secure token's registration): GCX with a zero
        amount (ABECS 2.12 §3.7.1 shows the amount only "if not zero"; classic GCR wants
        one), then nothing else of the card until RMC."""
        from virtual_devices.abecs import messages as m

        self._last_message = ""
        self.hand_card()
        self.tell("PRESENT_CARD")
        req = m.GcrRequest(0, when.strftime("%y%m%d"), when.strftime("%H%M%S"),
                           self.tables.version)
        deadline = self.world.now + limit
        while True:
            try:
                card: m.GcrResponse = yield from self._step(
                    self.term.host.gcx_as_gcr(req), max(0.0, deadline - self.world.now))
                break
            except ReaderFailure as exc:
                # 087: the tapped card wants to be inserted; the pinpad then asks for it
                # (ABECS §6.8.1.3) and the next GCX takes the insert
                if exc.code != m.ST_CTLSIFCHG or self.world.now >= deadline:
                    raise
        self.world.redactor.add_pan(card.pan)
        self.tell("CARD_INSERTED")
        return card

    def reread(self) -> None:
        """The next :meth:`read` tells PRESENT_CARD again (a read the reader refused)."""
        self._last_message = ""

    def enter_pin(self, card: m.GcrResponse) -> Gen:
        """GPN: an online PIN for a stripe card."""
        return (yield from self._step(self.term.enter_pin(card)))

    def go_on_chip(self, card: m.GcrResponse, amount: int) -> Gen:
        """GOC: offline data authentication, CVM, first GENERATE AC."""
        return (yield from self._step(self.term.go_on_chip(card, amount, self.tables)))

    def finish(self, rsp: Any) -> Gen:
        """FNC with the host's answer (None: the host did not answer)."""
        from virtual_devices.terminal import HostAnswer

        return (yield from self._step(self.term.finish_chip(HostAnswer.from_issuer(rsp))))

    def remove_card(self, limit: float | None = None) -> Gen:
        """RMC: ask for the card back; a failure here changes nothing of the sale.

        Past ``limit`` seconds the prompt is cancelled (CAN) with the card still in:
        returns False (the next GCR finds the card inserted, as a real slot would).
        """
        try:
            yield from self._step(self.term.remove_card(), limit, "the card was not removed")
        except TimedOut:
            return False
        except ReaderFailure:
            self.opened = False
        return True

    def hand_card(self) -> None:
        """The customer holds the next configured card, unless one is already chosen."""
        pinpad = self.pinpad
        if pinpad is None or pinpad.cards or not self.cards:
            return
        from virtual_devices.emv.catalogue import catalogue

        name = self.cards[self._next_card % len(self.cards)]
        self._next_card += 1
        # the customer's own cards, presented in turn: the same card each time (its
        # transaction counter goes on, a PIN it blocked stays blocked), as a wallet holds
        card = self._wallet.get(name)
        self.present_profile(catalogue()[name], card=card)
        if card is None:
            self._wallet[name] = pinpad.cards[-1]

    def present(self, card_name: str, **customer: Any) -> None:
        """The customer at this reader holds catalogue card ``card_name`` next."""
        from virtual_devices.emv.catalogue import catalogue

        if self.pinpad is None:
            raise ValueError(f"{self.name} is a real pinpad: a person presents the card")
        profiles = catalogue()
        if card_name not in profiles:
            raise ValueError(f"no card {card_name!r}; known: {', '.join(sorted(profiles))}")
        self.present_profile(profiles[card_name], **customer)

    def present_profile(self, profile: Any, card: Any = None, **customer: Any) -> None:
        """The customer at this reader holds a card made from ``profile`` next (``card``:
        that very card, when the customer presents it again)."""
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard

        pinpad = self.pinpad
        if pinpad is None:
            raise ValueError(f"{self.name} is a real pinpad: a person presents the card")
        # how this customer presents cards (--entry) carries over to the next card
        customer = {"presentation": pinpad.customer.behaviour.presentation, **customer}
        pinpad.customer = Customer.for_profile(self.world, profile, **customer)
        pinpad.queue_card(card if card is not None else VirtualCard(profile).place_in(self.world))

    def close(self) -> None:
        self.end.close()


def card_fields(card: m.GcrResponse) -> dict[str, str]:
    """Name and expiry as the final frame carries them (§B.4 step 8: ``expiryDate`` MMYY)."""
    exp = card.expiry  # YYMMDD
    return {"cardHolderName": card.holder_name.strip(),
            "expiryDate": f"{exp[2:4]}{exp[0:2]}" if len(exp) >= 4 else ""}


def virtual(world: World, name: str, acquirer: Any, cards: Sequence[str],
            customer: dict[str, Any] | None, currency: int) -> CardReader:
    """A virtual pinpad on an in-memory serial line (virtual mode)."""
    from virtual_devices.abecs.customer import Behaviour
    from virtual_devices.terminal import pinpad_end

    end = pinpad_end(world, "memory", name=name, customer=Behaviour(**(customer or {})))
    return CardReader(world, name, end, acquirer, cards, currency)


def on_pty(world: World, name: str, acquirer: Any, cards: Sequence[str],
           link_dir: str | None, currency: int) -> CardReader:
    """Realtime: the virtual pinpad on the device side of a pty pair (loop running)."""
    from virtual_devices.terminal import pinpad_end

    end = pinpad_end(world, "pty", name=name, link_dir=link_dir)
    return CardReader(world, name, end, acquirer, cards, currency)


def on_serial(world: World, name: str, acquirer: Any, path: str,
              currency: int) -> CardReader:
    """Realtime: a real ABECS pinpad on ``path``; the cardholder is a person."""
    from virtual_devices.terminal import pinpad_end

    end = pinpad_end(world, "serial", name=name, device=path)
    return CardReader(world, name, end, acquirer, (), currency)
