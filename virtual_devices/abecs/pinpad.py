"""The virtual ABECS pinpad: a SimPy process on one side of a byte stream.

``Pinpad(world, end, cards=..., customer=..., secure=True).start()`` reads bytes from
``end`` (an in-memory link or a pty), runs the sans-I/O :class:`PinpadLink`, and
executes one command at a time. Blocking commands (GCR, GOC, GPN, GKY, CKE, RMC) wait
for the customer; CAN or a new valid packet aborts them (§4.2). Chip commands are
delegated to :class:`~virtual_devices.abecs.icc.ChipSession`, which drives the EMV
kernel against the inserted card.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simpy

from simulator.streams import ByteEnd
from simulator.timings import Timings, load_timings
from simulator.world import World
from virtual_devices.abecs import extended, gcr, power
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.cards import stripe_of
from virtual_devices.abecs.commands import KNOWN, link_timings
from virtual_devices.abecs.customer import CANCEL_KEY, Customer, as_customer
from virtual_devices.abecs.display import Display
from virtual_devices.abecs.driver import LinkDriver
from virtual_devices.abecs.dukpt import DukptKey
from virtual_devices.abecs.fields import CodecError, Command, Response
from virtual_devices.abecs.icc import default_chip_factory
from virtual_devices.abecs.keys import KeyError_, KeyStore
from virtual_devices.abecs.link import (
    DC2,
    CancelReceived,
    LinkError,
    PacketReceived,
    PinpadLink,
)
from virtual_devices.abecs.secure import SecureError, SecureSession, wrap_session_key
from virtual_devices.abecs.slot import CardSlot
from virtual_devices.abecs.storage import pinpad_dir
from virtual_devices.abecs.tables import TableStore

KEY_CODES = {"enter": m.ST_OK, "cancel": m.ST_CANCEL, "clear": m.ST_BACKSP,
             "f1": m.ST_F1, "f2": m.ST_F2, "f3": m.ST_F3, "f4": m.ST_F4}

Gen = Generator[Any, Any, Any]


@dataclass(frozen=True)
class DeviceInfo:
    """GIN answers (§4.6)."""

    manufacturer: str = "CARDLOOP"
    model: str = "VPP-1;64M"
    ctls: bool = True  # a contactless antenna (GIN CTLSSUP "C")
    os_version: str = "cardloop 0.1"
    spec_version: str = "2.12"
    app_version: str = "ABECS-VPP 1.0"
    serial: str = "CL0000000001"


class _Abort(Exception):
    """Raised into a running command by CAN or a new packet."""


class Pinpad:
    """A pinpad that speaks ABECS on ``end``.

    ``cards`` is the queue the customer draws from; ``secure=False`` makes it an
    "obsolete" pinpad that answers ``OPN000`` to a secure OPN (§4.5).
    """

    def __init__(
        self,
        world: World,
        end: ByteEnd,
        cards: Iterable[Any] = (),
        customer: Customer | None = None,
        secure: bool = True,
        timings: Timings | None = None,
        info: DeviceInfo | None = None,
        name: str = "pinpad",
        chip_factory: Callable[..., Any] | None = None,
        cardholder: Any = None,
        state_dir: Path | None = None,
        pin_rate_limit: int | None = None,
    ) -> None:
        self.world = world
        self.end = end
        self.name = name
        self.t = timings or load_timings("virtual_devices.abecs")
        self.link = PinpadLink(link_timings(self.t))
        self.display = Display(world, port=f"{name}-display")
        # device events (virtual_devices.terminal.events) for a terminal in this world
        self.observers: list[Callable[[Any], None]] = []
        # who picks the application when the card offers several; None: the customer
        self.chooser: Callable[[list[str]], Gen] | None = None
        self.pin_kind = "online"  # what the PIN prompt is for (the chip session says)
        # GOX's SPE_DSPMSG and SPE_TIMEOUT for the PIN screens of one command (§3.7.3)
        self.pin_prompt: str | None = None
        self.pin_timeout: float | None = None
        # whether [OK/ENTRA] with no digits bypasses an EMV PIN prompt: GOX's SPE_GOXOPT
        # "xx1xx" forbids it for one command (§3.7.3)
        self.pin_bypass_allowed = True
        # PCI's brake on exhaustive PIN determination: over the last ``pin_rate_limit``
        # PIN entries the average spacing must be at least ``pin_capture_spacing``
        # (timings.toml), else 044 ST_PINBUSY. Off unless asked for (cardloop reader
        # asks): benches and soaks run sales faster than any person and measure that.
        self.pin_rate_limit = pin_rate_limit
        self.pin_captures: deque[float] = deque()
        self.tables = TableStore()
        self.cards: deque[Any] = deque()
        # the card the customer holds: presented again at each sale until another is
        # chosen (DECISIONS.md, "the card stays in the customer's hand")
        self.in_hand: Any = None
        self._card_chosen: simpy.Event = world.event()
        for card in cards:
            self.queue_card(card)
        if customer is None and cardholder is not None:
            customer = as_customer(world, cardholder)
        self.customer = customer or Customer(world)
        self.secure_enabled = secure
        self.session: SecureSession | None = None
        self.info = info or DeviceInfo()
        self.key_store = KeyStore.test_keys()  # every key method of §5 (keys.py)
        self.keys: dict[int, DukptKey] = self.key_store.dukpt_pin  # DUKPT:TDES:PIN slots
        self.rng = world.rng(name)
        self.slot = CardSlot(self.card_event)  # the card in the slot and its chip's state
        self._running: simpy.Process | None = None
        self._running_id = ""
        self.driver = LinkDriver(world, end, self.link, {
            PacketReceived: self._on_received,
            CancelReceived: self._on_cancel,
            LinkError: self._on_link_error,
        }, on_closed=lambda: self._abort_running("link closed"))
        self._apply = self.driver.apply
        self.process: simpy.Process | None = None
        # off or booting: every byte sent to it is lost (virtual_devices.abecs.power)
        self.powered = True
        self.booted = 0  # boots since it was made (reboots and power losses)
        self.handled: list[tuple[str, int]] = []  # (command, status) in order, for reports
        # GTK's tracks, multimedia files; with ``state_dir`` (the root of the pinpads'
        # storage, virtual_devices.abecs.storage) the files persist in this pinpad's own
        # directory across restarts
        self.storage = pinpad_dir(state_dir, self.info.serial) if state_dir else None
        self.extended = extended.ExtendedState(files=extended.MediaStore(
            self.storage / "media" if self.storage else None))
        if chip_factory is None:
            chip_factory = default_chip_factory()
        self.chip_factory = chip_factory

    # -- public control ---------------------------------------------------------------
    def start(self) -> simpy.Process:
        self.process = self.driver.start()
        return self.process

    def queue_card(self, card: Any) -> None:
        """Give the customer a card to present next (last in the queue); its PAN is masked."""
        self._register(card)
        self.cards.append(card)
        if not self._card_chosen.triggered:
            self._card_chosen.succeed()  # a customer waiting for a card gets it now

    def hold_card(self, card: Any) -> None:
        """The card the customer holds when nobody chose one (a default test card): it
        is presented until a card is queued, like any card in hand."""
        self._register(card)
        self.in_hand = card
        if not self._card_chosen.triggered:
            self._card_chosen.succeed()

    def _register(self, card: Any) -> None:
        place_in = getattr(card, "place_in", None)
        if callable(place_in):
            place_in(self.world)  # the EMV card model: seeded rng, secrets to the redactor
        pan = getattr(card, "pan", None)
        if pan:
            self.world.redactor.add_pan(str(pan))
        for track in stripe_of(card):
            if track:
                self.world.redactor.add_secret(track)  # full tracks are never written

    def take_card(self) -> Any:
        """The card the customer presents: the next one chosen, else the one in hand
        (None when no card was ever given)."""
        if self.cards:
            self.in_hand = self.cards.popleft()
        return self.in_hand

    def has_card(self) -> bool:
        return bool(self.cards) or self.in_hand is not None

    def card_chosen(self) -> simpy.Event:
        """Fires when a card is next given to the customer (wakes a waiting pinpad)."""
        if self._card_chosen.triggered:
            self._card_chosen = self.world.event()
        return self._card_chosen

    def act(self, action: Gen) -> simpy.Process:
        """Run a customer action as its own process; stopping it is not an error."""

        def guarded() -> Gen:
            try:
                return (yield from action)
            except simpy.Interrupt:
                return None

        return self.world.process(guarded())

    def subscribe(self, observer: Callable[[Any], None]) -> None:
        """Receive the device events: the display, the card in and out, the PIN prompt."""
        if not self.observers:
            self.display.listeners.append(self._screen_changed)
        self.observers.append(observer)

    def emit(self, event: Any) -> None:
        for obs in self.observers:
            obs(event)

    def _screen_changed(self, screen: Any) -> None:
        from virtual_devices.terminal.events import DisplayChanged

        self.emit(DisplayChanged(screen.at, screen.text))

    def card_event(self, what: str, card: Any = None) -> None:
        """Tell the observers a card went in ("insert", "tap", "swipe") or came out."""
        if not self.observers:
            return
        from simulator.masking import mask_pan
        from virtual_devices.terminal.events import CardPresented, CardRemoved

        if what == "remove":
            self.emit(CardRemoved(self.world.now))
            return
        pan = str(getattr(card, "pan", "") or "")
        self.emit(CardPresented(self.world.now, what,  # type: ignore[arg-type]
                                mask_pan(pan) if pan else ""))

    @property
    def inserted(self) -> Any:
        """The card in the chip slot (the slot owns it)."""
        return self.slot.card

    @property
    def chip(self) -> Any:
        return self.slot.chip

    @property
    def fallback_pending(self) -> bool:
        return self.slot.fallback_pending

    @property
    def antenna_on(self) -> bool:
        """The contactless field is up: a contactless card may be tapped now."""
        return self.slot.antenna_on

    @property
    def insert_requested(self) -> bool:
        """The last tap ended in 087: the customer inserts (or swipes) next."""
        return self.slot.insert_requested

    @property
    def busy(self) -> bool:
        return self._running is not None and self._running.is_alive

    # -- link plumbing ----------------------------------------------------------------
    def _on_received(self, out: PacketReceived) -> None:
        if self.powered:
            self._on_packet(out.pktdata)

    def _on_cancel(self, out: CancelReceived) -> None:
        if not self.powered:
            return
        self.world.transcript.event(self.name, "CAN: abort, EOT sent")
        self.link.forget_last()
        self._abort_running("CAN")

    def _on_link_error(self, out: LinkError) -> None:
        self.world.transcript.event(self.name, f"link: {out.reason}")

    def _abort_running(self, why: str) -> None:
        proc = self._running
        if proc is not None and proc.is_alive:
            proc.interrupt(why)
        self._running = None

    def _send(self, rsp: Response, clear: bool = False) -> None:
        if not self.powered:
            return  # a pinpad without power says nothing
        raw = rsp.encode()
        if self.session is not None and not clear:
            raw = self.session.seal(raw)
        self._apply(self.link.send_packet(raw))

    def notify(self, text: str) -> None:
        """NTM during a blocking command (§4.3)."""
        self.display.show(text)
        self._send(m.Notification(text).to_response())

    # -- packet -> command --------------------------------------------------------------
    def _on_packet(self, pktdata: bytes) -> None:
        # a valid new packet aborts a running (blocking) command, §4.2
        self._abort_running("new packet")
        if pktdata[:1] == bytes((DC2,)):
            if self.session is None:
                self._send(Response("ERR", m.ST_NOSEC), clear=True)
                return
            try:
                pktdata = self.session.open(pktdata)
            except SecureError as exc:
                self.world.transcript.event(self.name, f"secure packet error: {exc}")
                self.session = None
                self._send(Response("ERR", m.ST_ERRPKTSEC), clear=True)
                return
            if pktdata[:3] == b"OPN":
                self.session = None  # OPN only in clear: answer 010 and close the session
                self._send(Response("OPN", m.ST_INVCALL), clear=True)
                return
        elif self.session is not None and pktdata[:3] != b"OPN":
            ident = pktdata[:3].decode("latin-1") if pktdata[:3].isalpha() else "ERR"
            self._send(Response(ident, m.ST_ERRPKTSEC), clear=True)
            return
        try:
            cmd = Command.decode(pktdata)
        except CodecError as exc:
            ident = pktdata[:3].decode("latin-1")
            if not (len(ident) == 3 and ident.isalpha() and ident.isupper()) or ident not in KNOWN:
                ident = "ERR"
            self._finish(ident, Response(ident, exc.status if ident != "ERR" else m.ST_INVCALL),
                         clear=False)
            return
        if cmd.cmd_id not in KNOWN:
            self._finish(cmd.cmd_id, Response("ERR", m.ST_INVCALL), clear=False)
            return
        if power.on_command(self, cmd.cmd_id):
            return  # the power went as the command arrived: it is lost with the RAM
        self._running_id = cmd.cmd_id
        self._running = self.world.process(self._run(cmd))

    def _run(self, cmd: Command) -> Gen:
        registered = extended.HANDLERS.get(cmd.cmd_id)
        try:
            yield self.world.timeout(self.t["command_processing"])
            if registered is not None:
                rsp = yield from registered(self, cmd)
            else:
                handler: Callable[[Command], Gen] = getattr(self, f"_cmd_{cmd.cmd_id.lower()}")
                rsp = yield from handler(cmd)
        except simpy.Interrupt as intr:
            self.world.transcript.event(self.name, f"{cmd.cmd_id} aborted ({intr.cause})")
            self.handled.append((cmd.cmd_id, -1))
            self._after_abort(cmd.cmd_id)
            return
        except CodecError as exc:
            rsp = Response(cmd.cmd_id, exc.status)
        except _AlreadySent:
            rsp = None
        if self._running is not None and self._running is self.world.env.active_process:
            self._running = None
        if rsp is None:
            return
        clear = cmd.cmd_id in ("CLO", "CLX")
        self._finish(cmd.cmd_id, rsp, clear)
        if clear:
            self.session = None  # the CLO response goes in clear and ends the session

    def _finish(self, cmd_id: str, rsp: Response, clear: bool) -> None:
        self.handled.append((cmd_id, rsp.status))
        self._send(rsp, clear=clear)

    def _after_abort(self, cmd_id: str) -> None:
        if cmd_id in ("GCR", "GOC", "GCX", "GOX"):
            self.display.clear()
        self.slot.aborted("GCR" if cmd_id == "GCX" else cmd_id)

    # -- commands without the customer ------------------------------------------------
    def _cmd_opn(self, cmd: Command) -> Gen:
        req = m.OpnRequest.from_command(cmd)
        self.session = None
        self._end_transaction()
        if req.modulus is None or not self.secure_enabled:
            return m.OpnResponse(None).to_response()
        ksec = bytes(self.rng.randrange(256) for _ in range(16))
        self.world.redactor.add_secret(ksec)
        try:
            crk = wrap_session_key(ksec, req.modulus, req.exponent, self.rng)
        except ValueError as exc:  # SecureError too: a key that cannot carry KSEC
            # the host's public key fails validation (zero or short modulus, even or
            # unit exponent): a cryptographic error, answered in clear, no session
            self.world.transcript.event(self.name, f"OPN: unusable RSA key: {exc}")
            return Response("OPN", m.ST_ERRCRYPT)
        rsp = m.OpnResponse(crk).to_response()
        # the OPN response itself goes in clear; the session starts after it
        self._finish("OPN", rsp, clear=True)
        self.session = SecureSession(ksec)
        raise _AlreadySent()
        yield  # pragma: no cover

    def _end_transaction(self) -> None:
        taken = self.slot.reset()
        if taken is not None and self.cards and self.cards[0] is taken:
            # the fallback swipe never came: the customer leaves with the failed card,
            # and the next customer's card is the next one read
            self.cards.popleft()

    def _cmd_clo(self, cmd: Command) -> Gen:
        req = m.MessageRequest.from_command(cmd)
        self.display.show(req.message)
        self._end_transaction()
        return Response("CLO")
        yield  # pragma: no cover

    def _cmd_gin(self, cmd: Command) -> Gen:
        req = m.GinRequest.from_command(cmd)
        i = self.info
        if req.acq_idx == 0:
            return m.GinResponse(i.manufacturer, i.model, i.ctls, i.os_version, i.spec_version,
                                 i.app_version, i.serial).to_response()
        # Choice: per-acquirer info (42 bytes) = name A20 + app version A13 + RUF A9.
        body = f"{'ACQUIRER ' + str(req.acq_idx):<20}{i.app_version[:13]:<13}{'':<9}"
        return Response("GIN", 0, (body.encode("latin-1"),))
        yield  # pragma: no cover

    def _cmd_dsp(self, cmd: Command) -> Gen:
        self.display.show(m.MessageRequest.from_command(cmd).message)
        return Response("DSP")
        yield  # pragma: no cover

    def _cmd_dex(self, cmd: Command) -> Gen:
        self.display.show_multiline(m.DexRequest.from_command(cmd).message)
        return Response("DEX")
        yield  # pragma: no cover

    def _cmd_gdu(self, cmd: Command) -> Gen:
        req = m.GduRequest.from_command(cmd)
        if req.method not in (2, 3) or not 1 <= req.key_idx <= 99:
            return Response("GDU", m.ST_INVPARM)
        key = self.keys.get(req.key_idx)
        if key is None:
            return Response("GDU", m.ST_ERRKEY)
        return m.KsnResponse(key.ksn).to_response()
        yield  # pragma: no cover

    def _cmd_gts(self, cmd: Command) -> Gen:
        req = m.GtsRequest.from_command(cmd)
        return Response("GTS", 0, (self.tables.version(req.acq_idx).encode("latin-1"),))
        yield  # pragma: no cover

    def _cmd_tli(self, cmd: Command) -> Gen:
        req = m.TliRequest.from_command(cmd)
        same = self.tables.begin(req.acq_idx, req.version)
        return Response("TLI", 0 if same else m.ST_TABVERDIF)
        yield  # pragma: no cover

    def _cmd_tlr(self, cmd: Command) -> Gen:
        if not self.tables.loading:
            return Response("TLR", m.ST_INVCALL)
        self.tables.add(m.TlrRequest.from_command(cmd).records)
        return Response("TLR")
        yield  # pragma: no cover

    def _cmd_tle(self, cmd: Command) -> Gen:
        if not self.tables.loading:
            return Response("TLE", m.ST_INVCALL)
        if not self.tables.commit():
            return Response("TLE", m.ST_TABERR)  # does not fit: the old tables stay
        return Response("TLE")
        yield  # pragma: no cover

    # -- commands with the customer -----------------------------------------------------
    def _cmd_gky(self, cmd: Command) -> Gen:
        key = yield from self.customer.press_key(self)
        return Response("GKY", KEY_CODES.get(key, m.ST_OK))

    def _cmd_cke(self, cmd: Command) -> Gen:
        req = m.CkeRequest.from_command(cmd)
        if req.ctls and self.info.ctls:
            return (yield from self._cke_contactless(req))
        if (req.mag or req.icc == 1) and self.has_card():
            got = yield from self.customer.present_card(self)
            if got != CANCEL_KEY:
                card, how = got
                if how == "insert" and req.icc == 1:
                    self.slot.insert(card)
                    return m.CkeResponse(2, status=1).to_response()
                yield self.world.timeout(self.t["magstripe_read"])
                self.card_event("swipe", card)
                t1, t2 = stripe_of(card)
                if not t2:
                    return Response("CKE", m.ST_MCDATAERR)
                return m.CkeResponse(1, track1=t1, track2=t2).to_response()
            return m.CkeResponse(0, keycode=13).to_response()
        if req.icc == 2 and self.inserted is not None:
            yield from self.customer.remove_card(self)
            self.slot.remove()
            return m.CkeResponse(2, status=0).to_response()
        if req.key:
            key = yield from self.customer.press_key(self)
            return m.CkeResponse(0, keycode=KEY_CODES.get(key, 0)).to_response()
        yield self.world.event()  # nothing enabled can happen: wait for CAN
        return Response("CKE", m.ST_INVPARM)  # pragma: no cover

    def _cke_contactless(self, req: m.CkeRequest) -> Gen:
        """CKE with the antenna on: a tap is event 3 with CTLSSTAT 1; two minutes with
        nothing in the field is event 3 with CTLSSTAT 0 (§6.5.3). A swipe or an insert,
        when enabled, is reported as without the antenna. The tapped card stays in the
        customer's hand for the card command that follows."""
        self.slot.antenna_on = True
        acting = self.act(self.customer.present_card(self))
        try:
            yield self.world.any_of([acting, self.world.timeout(self.t["ctls_wait"])])
        except simpy.Interrupt:
            if acting.is_alive:
                acting.interrupt("aborted")
            raise
        finally:
            self.slot.antenna_on = False
        if not acting.triggered:
            acting.interrupt("timeout")
            return m.CkeResponse(3, status=0).to_response()
        got: Any = acting.value
        if got == CANCEL_KEY:
            return m.CkeResponse(0, keycode=13).to_response()
        card, how = got
        if how == "tap":
            self.slot.tapped(card)
            return m.CkeResponse(3, status=1).to_response()
        if how == "insert" and req.icc == 1:
            self.slot.insert(card)
            return m.CkeResponse(2, status=1).to_response()
        yield self.world.timeout(self.t["magstripe_read"])
        self.card_event("swipe", card)
        t1, t2 = stripe_of(card)
        if not t2:
            return Response("CKE", m.ST_MCDATAERR)
        return m.CkeResponse(1, track1=t1, track2=t2).to_response()

    def _cmd_rmc(self, cmd: Command) -> Gen:
        req = m.MessageRequest.from_command(cmd)
        self.display.show(req.message)
        if self.inserted is None:
            return Response("RMC")
        removed = self.act(self.customer.remove_card(self))
        try:
            show_msg = False
            while not removed.triggered:
                yield self.world.any_of([removed, self.world.timeout(self.t["rmc_blink"])])
                if removed.triggered:
                    break
                self.display.show(req.message if show_msg else "RETIRE O CARTAO")
                show_msg = not show_msg
        except simpy.Interrupt:
            if removed.is_alive:
                removed.interrupt("aborted")
            raise
        self.slot.remove()
        self.display.show(req.message)
        return Response("RMC")

    def pin_entry(self, min_len: int, max_len: int, amount: int | None,
                  bypass: bool = False) -> Gen:
        """Prompt and wait: returns the PIN, ``""`` for a PIN bypass (``bypass``: an EMV
        prompt that allows one, and :attr:`pin_bypass_allowed`), or a status code (012
        timeout, 013 cancel).

        [OK/ENTRA] with no digits where a bypass is not allowed is refused the way a
        pinpad refuses it: the prompt stays, and the person is asked again (a new
        inactivity period starts).
        """
        if self._pin_busy():
            self.world.transcript.event(self.name, "PIN entry refused: too many too fast")
            return m.ST_PINBUSY
        # a host's own PIN message (GOX): its first line stays, the digits show below it
        head = (self.pin_prompt or "").replace("\n", "\r").split("\r")[0] or None
        self._show_pin_prompt(head, amount)
        self._emit_pin(None)
        while True:
            typed = self.act(self.customer.type_pin(self, min_len, max_len))
            timeout = self.world.timeout(self.pin_timeout or self.t["pin_entry_timeout"])
            try:
                yield self.world.any_of([typed, timeout])
            except simpy.Interrupt:
                if typed.is_alive:
                    typed.interrupt("aborted")
                raise
            if not typed.triggered:
                typed.interrupt("timeout")
                self.display.clear()
                self._emit_pin("")
                return m.ST_TIMEOUT
            pin = str(typed.value)
            if pin == CANCEL_KEY:
                self.display.clear()
                self._emit_pin("")
                return m.ST_CANCEL
            if pin or (bypass and self.pin_bypass_allowed):
                break
            self.world.transcript.event(self.name, "PIN bypass refused: the PIN is required")
            self._show_pin_prompt(head, amount)
        self._emit_pin("*" * len(pin))
        self.display.show_lines(head or "", ("" if head else "SENHA: ") + "*" * len(pin))
        if pin:
            self.pin_captures.append(self.world.now)
            while self.pin_rate_limit and len(self.pin_captures) > self.pin_rate_limit:
                self.pin_captures.popleft()
        return pin

    def _pin_busy(self) -> bool:
        limit = self.pin_rate_limit
        if not limit or len(self.pin_captures) < limit:
            return False
        return self.world.now - self.pin_captures[0] < limit * self.t["pin_capture_spacing"]

    def _show_pin_prompt(self, head: str | None, amount: int | None) -> None:
        if head is not None:
            self.display.show_lines(head, "")
        elif amount is not None:
            self.display.show_lines(f"VALOR: {amount // 100},{amount % 100:02d}", "SENHA:")
        else:
            self.display.show_lines("", "SENHA:")

    def _emit_pin(self, masked: str | None) -> None:
        """PIN prompt shown (None) or PIN entry over (the digits as asterisks)."""
        if not self.observers:
            return
        from virtual_devices.terminal.events import PinEntered, PinEntryStarted

        if masked is None:
            self.emit(PinEntryStarted(self.world.now, self.pin_kind))
        else:
            self.emit(PinEntered(self.world.now, masked))

    def _cmd_gpn(self, cmd: Command) -> Gen:
        req = m.GpnRequest.from_command(cmd)
        # MK/WK:TDES (1) with the host's working key, or DUKPT:TDES (3); the DES
        # methods (0, 2) name keys ABECS 2.10 removed: ST_ERRKEY before any prompt
        if not self.key_store.has_pin_key(req.method, req.key_idx):
            return Response("GPN", m.ST_ERRKEY)
        self.display.show(req.message)
        got = yield from self.pin_entry(req.min_len, req.max_len, None)
        if isinstance(got, int):
            return Response("GPN", got)
        # the key was found above and WKENC is H32 (hexadecimal, checked when the command
        # was read): the key store has everything it needs, so no ST_ERRKEY after the PIN
        block, ksn = self.encrypt_pin(req.method, req.key_idx, req.working_key, got, req.pan)
        self.display.show("PROCESSANDO...")
        return m.PinResponse(block, ksn).to_response()

    def encrypt_pin(self, method: int, key_idx: int, wkenc: str, pin: str,
                    pan: str) -> tuple[bytes, bytes]:
        """The PIN block under the named key (GPN, GOC, GOX); the block and the digits
        are registered as secrets so no transcript ever shows them."""
        try:
            wk = bytes.fromhex(wkenc) if method == 1 else b""
        except ValueError:
            raise KeyError_("WKENC is not hexadecimal") from None
        block, ksn = self.key_store.encrypt_pin(method, key_idx, wk, pin, pan)
        self.world.redactor.add_secret(block)
        self.world.redactor.add_secret(pin.encode())
        return block, ksn

    def _cmd_gcr(self, cmd: Command) -> Gen:
        return (yield from gcr.get_card(self, cmd))

    def _cmd_goc(self, cmd: Command) -> Gen:
        return (yield from gcr.go_on_chip(self, cmd))

    def _cmd_fnc(self, cmd: Command) -> Gen:
        return (yield from gcr.finish_chip(self, cmd))

    def _cmd_cng(self, cmd: Command) -> Gen:
        req = m.CngRequest.from_command(cmd)
        if self.chip is None:
            return Response("CNG", m.ST_INVCALL)
        self.chip.change_parameters(req.emv_data)
        return Response("CNG")
        yield  # pragma: no cover


class _AlreadySent(Exception):
    """A handler that sent its own response (OPN switches to secure after it)."""
