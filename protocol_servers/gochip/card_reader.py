"""The card reader behind the agent: the one module that knows how the card is read.

GoChip's device plugins drive a USB reader (§B.2); ours is the project's virtual ABECS
pinpad (EMV kernel, virtual card and cardholder inside) on an in-memory line in virtual
mode, on a pty in realtime mode, or a real ABECS pinpad on a serial port. This module is
the adapter between the agent and that reader: ``connect`` (OPN, GIN, tables), ``read``
(GCR), ``go_on_chip`` (GOC), ``finish`` (FNC), ``remove_card`` (RMC) and ``cancel``
(CAN), each a SimPy generator, plus what the reader shows, turned into GoChip
``RES_ON_MESSAGE`` values.

What the reader shows -> ``RES_ON_MESSAGE`` (§B.4 step 7; only ``REMOVE_CARD`` is
documented; the others are ours, as §B.7 proposes): the pinpad's "insert card" screen
-> ``PRESENT_CARD``; its first "processing" screen after that -> ``CARD_INSERTED``; its
PIN screen -> ``ENTER_PIN`` (ours); "remove card" -> ``REMOVE_CARD``. The agent adds
``PROCESSING`` itself when it goes online. A real pinpad on a serial line shows nothing
to the host but its NTM notifications, which are mapped the same way.

The application choice of a card with several applications is the kernel's: when it
asks, :attr:`CardReader.choose_app` (set by the agent) is called with the labels and
the agent asks the POS (``RES_ON_SELECT_APPLICATION``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from simulator.world import World
from virtual_devices.abecs.display import Display, Screen

if TYPE_CHECKING:
    from protocol_servers.p3.abecs_reader import AbecsReader
    from virtual_devices.abecs import messages as m

Gen = Generator[simpy.Event, Any, Any]
MessageHook = Callable[[str], None]
ChooseHook = Callable[[list[str]], Generator[Any, Any, "int | None"]]

# what the reader's screen says -> RES_ON_MESSAGE value (ours except REMOVE_CARD)
SCREEN_MESSAGES: tuple[tuple[str, str], ...] = (
    ("RETIRE", "REMOVE_CARD"),
    ("INSIRA", "PRESENT_CARD"),
    ("APROXIME", "PRESENT_CARD"),
    ("SENHA", "ENTER_PIN"),
    ("PROCESSANDO", "CARD_INSERTED"),
)
OURS = frozenset({"PRESENT_CARD", "CARD_INSERTED", "PROCESSING", "ENTER_PIN"})


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


class _WatchedDisplay(Display):
    """The pinpad's display, telling the adapter each new screen."""

    listener: Callable[[Screen], None] | None = None

    def _set(self, l1: str, l2: str) -> Screen:
        before = self.history[-1]
        screen = super()._set(l1, l2)
        if self.history[-1] is not before and self.listener is not None:
            self.listener(screen)
        return screen


class CardReader:
    """One reader the agent can connect: ``name`` is what ``portName`` picks."""

    def __init__(self, world: World, name: str, abecs: AbecsReader) -> None:
        self.world = world
        self.name = name
        self.abecs = abecs
        self.on_message: MessageHook | None = None
        self.choose_app: ChooseHook | None = None
        self.lock = simpy.Resource(world.env, capacity=1)  # one card dialogue at a time
        self.owner: object | None = None  # the connection that connected it
        self.info: DeviceInfo | None = None
        self._running: simpy.Process | None = None
        self._last_message = ""
        self._cancelled = False
        pinpad = abecs.pinpad
        if pinpad is not None:
            display = _WatchedDisplay(world)
            display.listener = self._screen
            pinpad.display = display
            pinpad.chooser = self._choose
        abecs.host.on_notification = self._notification

    # -- what the reader shows -----------------------------------------------------------
    def _screen(self, screen: Screen) -> None:
        self._shown(screen.text.upper())

    def _notification(self, text: str) -> None:
        self._shown(text.upper())

    def _shown(self, text: str) -> None:
        for needle, message in SCREEN_MESSAGES:
            if needle in text:
                if message == "CARD_INSERTED" and self._last_message != "PRESENT_CARD":
                    return  # later "processing" screens are the agent's PROCESSING
                self.tell(message)
                return

    def tell(self, message: str) -> None:
        if message == self._last_message:
            return
        self._last_message = message
        if self.on_message is not None:
            self.on_message(message)

    def _choose(self, labels: list[str]) -> Generator[Any, Any, int | None]:
        if self.choose_app is None:
            return 0
        return (yield from self.choose_app(labels))

    # -- steps ------------------------------------------------------------------------
    def _step(self, gen: Gen, limit: float | None = None) -> Gen:
        """Run one ABECS exchange as its own process (so a cancel can CAN it)."""
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
                raise ReaderFailure("no card was presented in time", None)
            result = proc.value
        self._running = None
        if isinstance(result, Exception):
            raise ReaderFailure(str(result), getattr(result, "code", None))
        return result

    def cancel(self) -> Gen:
        """CAN the exchange that is running, if any, and wait for it to end."""
        proc = self._running
        self._cancelled = True
        if proc is not None and not proc.triggered:
            def can() -> Gen:
                try:
                    yield from self.abecs.host.cancel()
                except Exception:  # noqa: BLE001 - a dead line: nothing left to cancel
                    return
            yield self.world.process(can())
            yield proc
        self._running = None

    def connect(self) -> Gen:
        """OPN, GIN and the tables: what ``REQ_INIT_DEVICE`` needs from the reader."""
        from virtual_devices.abecs.flows import ensure_tables

        abecs = self.abecs
        if not abecs.opened:
            yield from self._step(abecs.host.opn())
            abecs.opened = True
        gin = yield from self._step(abecs.host.gin(0))
        yield from self._step(ensure_tables(abecs.host, abecs.version, abecs.records))
        # Choice: ABECS GIN has no kernel field of its own; the pinpad's application
        # version (the EMV application that runs the kernel) is its kernel version, and
        # its OS version is the firmware.
        self.info = DeviceInfo(gin.serial, gin.app_version, gin.os_version,
                               f"{gin.manufacturer} {gin.model}".strip())
        return self.info

    def device_info(self) -> Gen:
        gin = yield from self._step(self.abecs.host.gin(0))
        self.info = DeviceInfo(gin.serial, gin.app_version, gin.os_version,
                               f"{gin.manufacturer} {gin.model}".strip())
        return self.info

    def read(self, amount: int, when: Any, limit: float) -> Gen:
        """GCR: wait for the card, select the application, read its records."""
        from virtual_devices.abecs import messages as m

        self._cancelled = False
        self._last_message = ""
        self.abecs.hand_card()
        req = m.GcrRequest(amount, when.strftime("%y%m%d"), when.strftime("%H%M%S"),
                           self.abecs.version)
        card: m.GcrResponse = yield from self._step(self.abecs.host.gcr(req), limit)
        if card.pan:
            self.world.redactor.add_pan(card.pan)
        return card

    def go_on_chip(self, amount: int) -> Gen:
        """GOC: offline data authentication, CVM, first GENERATE AC.

        Choice: always online (GOC 'connect' set). The GoChip basic transaction sends
        every chip sale to the gateway (§B.1 "Basic Transaction ... encrypted to be sent
        to the gateway"); offline approval is a separate feature (offline mode) we do
        not offer.
        """
        from virtual_devices.abecs import messages as m
        from virtual_devices.abecs.flows import GOC_TAGS

        req = m.GocRequest(amount, GOC_TAGS, force_online=True)
        return (yield from self._step(self.abecs.host.goc(req)))

    def finish(self, answered: bool, arc: str, approved: bool, issuer_data: bytes) -> Gen:
        """FNC: the host's answer (or none) to the card, second GENERATE AC."""
        from virtual_devices.abecs import messages as m
        from virtual_devices.abecs.flows import FNC_TAGS

        if not answered:
            req = m.FncRequest(1, "00", b"", FNC_TAGS)
        else:
            req = m.FncRequest(0 if approved or arc == "00" else 9, arc, issuer_data, FNC_TAGS)
        return (yield from self._step(self.abecs.host.fnc(req)))

    def remove_card(self) -> Gen:
        """RMC: ask for the card back; a failure here changes nothing of the sale."""
        try:
            yield from self._step(self.abecs.host.rmc("RETIRE O CARTAO"))
        except ReaderFailure:
            self.abecs.opened = False

    def present(self, card_name: str, **customer: Any) -> None:
        """The customer at this reader holds catalogue card ``card_name`` next."""
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        pinpad = self.abecs.pinpad
        if pinpad is None:
            raise ValueError(f"{self.name} is a real pinpad: a person presents the card")
        profiles = catalogue()
        if card_name not in profiles:
            raise ValueError(f"no card {card_name!r}; known: {', '.join(sorted(profiles))}")
        profile = profiles[card_name]
        pinpad.customer = Customer.for_profile(self.world, profile, **customer)
        pinpad.queue_card(VirtualCard(profile).place_in(self.world))

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def close(self) -> None:
        self.abecs.close()


def card_fields(card: m.GcrResponse) -> dict[str, str]:
    """Name and expiry as the final frame carries them (§B.4 step 8: ``expiryDate`` MMYY)."""
    exp = card.expiry  # YYMMDD
    return {"cardHolderName": card.holder_name.strip(),
            "expiryDate": f"{exp[2:4]}{exp[0:2]}" if len(exp) >= 4 else ""}


def virtual(world: World, name: str, acquirer: Any, cards: tuple[str, ...],
            customer: dict[str, Any] | None = None) -> CardReader:
    from protocol_servers.p3.abecs_reader import virtual_reader

    return CardReader(world, name, virtual_reader(world, name, acquirer, cards, customer))


def on_pty(world: World, name: str, acquirer: Any, cards: tuple[str, ...],
           link_dir: str | None = None) -> CardReader:
    from protocol_servers.p3.abecs_reader import pty_reader

    return CardReader(world, name, pty_reader(world, name, acquirer, cards, link_dir))


def on_serial(world: World, name: str, acquirer: Any, path: str) -> CardReader:
    from protocol_servers.p3.abecs_reader import serial_reader

    return CardReader(world, name, serial_reader(world, name, acquirer, path))
