"""The card reader: drives the sans-I/O kernel on the world's clock.

Each request the kernel yields is served here: an APDU goes to the card after the
time the exchange takes on the interface (bytes x per-byte time + the card's
processing time, from ``timings.toml``); questions go to the cardholder's SimPy
methods (with the reader's prompt timeouts); the online request goes to the
acquirer host after the host round trip. Every exchange is written to the
transcript under the port ``card`` with a decoded label (masked by the world).

:func:`run_transaction` is the whole thing for one presentation: the cardholder
presents the card, the reader powers it, the kernel runs, the card leaves. It also
follows the reader's instructions the way a cardholder does (insert after "insert
card", swipe after a chip failure when fallback is allowed, tap again after "see
phone") when the cardholder's behaviour says they follow prompts.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from simulator.timings import Timings, load_timings
from simulator.world import World
from virtual_devices.emv.card import CardMute
from virtual_devices.emv.kernel.contact import ContactKernel, GocParams, Txn
from virtual_devices.emv.kernel.contactless import ContactlessKernel
from virtual_devices.emv.kernel.magstripe import swipe
from virtual_devices.emv.kernel.messages import (
    CANCEL,
    NO_ANSWER,
    Apdu,
    AuthRequest,
    ChooseApp,
    Display,
    EnterPin,
    GoOnline,
    Interface,
    IssuerResponse,
    Outcome,
    Status,
)
from virtual_devices.emv.kernel.serve import serve
from virtual_devices.emv.terminal import TerminalConfig

_INS_TIMING = {
    0xA4: "card_select",
    0xB2: "card_read_record",
    0xA8: "card_gpo",
    0xAE: "card_generate_ac",
    0x88: "card_rsa",
    0x20: "card_verify",
}

_CTLS_TIMING = {
    0xA4: "ctls_card_select",
    0xB2: "ctls_card_read_record",
    0xA8: "ctls_card_gpo",
    0xAE: "ctls_card_generate_ac",
}


class Card(Protocol):
    name: str
    pan: str

    def power_on(self, interface: str) -> bytes: ...
    def power_off(self) -> None: ...
    def transmit(self, apdu: bytes) -> bytes: ...


class Host(Protocol):
    def authorise(self, request: AuthRequest) -> IssuerResponse | None: ...


def reader_timings() -> Timings:
    return load_timings("virtual_devices.emv.kernel")


class Reader:
    """One reader slot/antenna in a world."""

    def __init__(self, world: World, timings: Timings | None = None, port: str = "card") -> None:
        self.world = world
        self.timings = timings or reader_timings()
        self.port = port
        self.apdus = 0

    def exchange_time(self, interface: Interface, command: bytes, response: bytes) -> float:
        t = self.timings
        nbytes = len(command) + len(response)
        if interface == "contactless":
            transfer = nbytes * t["ctls_byte"] + t["ctls_turnaround"]
        else:
            transfer = nbytes * t["contact_byte"] + t["contact_turnaround"]
        ins = command[1] if len(command) > 1 else 0
        name = _INS_TIMING.get(ins, "card_other")
        if interface == "contactless":
            # Contactless chips have their own budget: the whole tap in 500 ms.
            name = _CTLS_TIMING.get(ins, "ctls_card_other")
            return transfer + t[name]
        processing = t[name]
        if ins == 0xAE and len(command) > 2 and command[2] & 0x10:
            processing += t["card_rsa"]  # CDA: the card signs its answer
        if ins == 0x20 and len(command) > 3 and command[3] == 0x88:
            processing += t["card_rsa"]  # enciphered PIN: the card decrypts
        return transfer + processing

    def mute_timeout(self, interface: Interface) -> float:
        """How long the reader waits for a card that sent nothing back."""
        name = "ctls_mute_timeout" if interface == "contactless" else "card_mute_timeout"
        return float(self.timings[name])

    def transmit(self, card: Card, interface: Interface, request: Apdu) -> Generator[Any, Any, Any]:
        """One APDU to the card in the slot, on the clock: its response, :data:`NO_ANSWER`
        when it falls silent (after the waiting time), None when it is broken."""
        world = self.world
        world.transcript.record(self.port, "tx", request.command, request.label)
        try:
            response = card.transmit(request.command)
        except CardMute as exc:
            # Silence, not removal: the reader waits out its waiting time,
            # then gives the kernel a communication error.
            yield world.timeout(self.mute_timeout(interface))
            world.transcript.event(self.port, f"card does not answer: {exc}")
            return NO_ANSWER
        except Exception as exc:  # a broken card (or one no longer powered)
            world.transcript.event(self.port, f"card does not answer: {exc}")
            return None
        yield world.timeout(self.exchange_time(interface, request.command, response))
        self.apdus += 1
        world.transcript.record(self.port, "rx", response, f"{request.label} -> "
                                f"{response[-2:].hex().upper()}")
        return response

    def drive(
        self,
        gen: Generator[Any, Any, Outcome],
        card: Card | None,
        interface: Interface,
        cardholder: Any,
        host: Host | None,
    ) -> Generator[Any, Any, Outcome]:
        """Serve the kernel's requests until it returns its outcome."""
        services = _Presentation(self, card, interface, cardholder, host)
        return (yield from serve(gen, services))  # type: ignore[no-any-return]

    def _ask(self, process: Generator[Any, Any, Any] | None, timeout_name: str) -> Any:
        """Run a cardholder action with a prompt timeout; timing out answers CANCEL."""
        if process is None:
            return CANCEL
        proc = self.world.process(process)
        limit = self.world.timeout(self.timings[timeout_name])
        yield self.world.any_of([proc, limit])
        if proc.triggered:
            return proc.value
        self.world.transcript.event("pinpad", f"{timeout_name.replace('_', ' ')} expired")
        return CANCEL


class _Presentation:
    """The reader's answers to the kernel during one presentation (see :mod:`.serve`)."""

    def __init__(self, reader: Reader, card: Card | None, interface: Interface,
                 cardholder: Any, host: Host | None) -> None:
        self.reader = reader
        self.card = card
        self.interface = interface
        self.cardholder = cardholder
        self.host = host

    def apdu(self, request: Apdu) -> Generator[Any, Any, Any]:
        present = self.cardholder.still_present() if self.cardholder is not None else True
        if self.card is None or not present:
            self.reader.world.transcript.event(self.reader.port, f"{request.label}: no card")
            return None
        return (yield from self.reader.transmit(self.card, self.interface, request))

    def choose_app(self, request: ChooseApp) -> Generator[Any, Any, Any]:
        holder = self.cardholder
        return (yield from self.reader._ask(
            holder.choose_app(request.candidates) if holder else None, "app_choice_timeout"))

    def enter_pin(self, request: EnterPin) -> Generator[Any, Any, Any]:
        self.reader.world.transcript.event(
            "pinpad", f"PIN prompt ({request.kind})"
            + (" after a wrong PIN" if request.last_wrong else ""))
        holder = self.cardholder
        return (yield from self.reader._ask(
            holder.enter_pin(request) if holder else None, "pin_entry_timeout"))

    def display(self, request: Display) -> Generator[Any, Any, Any]:
        self.reader.world.transcript.event("pinpad", f"display: {request.message}")
        return None
        yield  # pragma: no cover

    def go_online(self, request: GoOnline) -> Generator[Any, Any, Any]:
        world = self.reader.world
        world.transcript.event("host", f"authorisation request ({request.request.interface})")
        yield world.timeout(self.reader.timings["host_round_trip"])
        answer = self.host.authorise(request.request) if self.host is not None else None
        world.transcript.event(
            "host", "no answer" if answer is None else f"response code {answer.arc}"
        )
        return answer


def run_transaction(
    world: World,
    card: Any,
    terminal_cfg: TerminalConfig,
    txn: Txn,
    cardholder: Any,
    acquirer: Host | None,
    interface: Interface | None = None,
    goc: GocParams | None = None,
    reader: Reader | None = None,
) -> Generator[Any, Any, Outcome]:
    """One payment as a SimPy process: ``outcome = yield from run_transaction(...)``.

    ``interface`` defaults to the cardholder's behaviour. Reader prompts are followed
    (at most three presentations) when the cardholder follows prompts.
    """
    reader = reader or Reader(world)
    if interface is None:
        interface = cardholder.behaviour.interface if cardholder is not None else "contact"
    fallback = False
    outcome = Outcome(Status.CANCELLED, "nothing presented", interface)
    for _ in range(4):
        outcome = yield from _present_once(
            world, reader, card, terminal_cfg, txn, cardholder, acquirer, interface, goc,
            fallback,
        )
        follow = cardholder is not None and cardholder.behaviour.follow_prompts
        if not follow:
            break
        if outcome.status in (Status.INSERT_CARD, Status.TRY_ANOTHER_INTERFACE) and (
            interface != "contact"
        ):
            interface = "contact"
        elif outcome.status is Status.FALLBACK and interface == "contact":
            interface, fallback = "magstripe", True
        elif outcome.status is Status.SEE_PHONE:
            ok = yield from cardholder.verify_on_phone()
            if not ok:
                break
            if hasattr(card, "confirm_cdcvm"):
                card.confirm_cdcvm()
        elif outcome.status is Status.CARD_ERROR and interface == "magstripe":
            continue  # bad swipe: swipe again
        else:
            break
    if (
        outcome.status is not Status.APPROVED
        and outcome.online
        and outcome.arc in ("00", "08", "10", "11")
        and outcome.reference
        and hasattr(acquirer, "reverse")
    ):
        # The issuer approved but the card refused (or left before the second
        # GENERATE AC): the reader reverses the approval so the merchant is not paid
        # for a sale that did not complete (Book 4 §12.2.2).
        acquirer.reverse(outcome.reference)  # type: ignore[union-attr]
        outcome.reversed = True
        world.transcript.event("host", f"reversal of {outcome.reference}")
    reason = f": {outcome.reason}" if outcome.reason else ""
    world.transcript.event("reader", f"outcome {outcome.status.value}{reason}")
    return outcome


def _present_once(
    world: World,
    reader: Reader,
    card: Any,
    cfg: TerminalConfig,
    txn: Txn,
    cardholder: Any,
    acquirer: Host | None,
    interface: Interface,
    goc: GocParams | None,
    fallback: bool,
) -> Generator[Any, Any, Outcome]:
    if cardholder is not None:
        yield from cardholder.present(interface)
    if interface == "magstripe":
        yield world.timeout(reader.timings["swipe_decode"])
        track2 = _read_track2(world, card, cardholder)
        world.transcript.event("reader", "swipe read" if track2 else "swipe unreadable")
        return (yield from reader.drive(swipe(cfg, txn, track2, fallback), None, interface,
                                        cardholder, acquirer))
    activation = "ctls_activation" if interface == "contactless" else "contact_activation"
    yield world.timeout(reader.timings[activation])
    if interface == "contactless" and cardholder is not None and hasattr(cardholder, "in_field"):
        card = cardholder.in_field(card)  # a second card held against it, maybe
    try:
        if interface == "contactless" and hasattr(card, "activate"):
            # A field with cards in it (virtual_devices.emv.field): poll first.
            card, atr = card.activate()
        else:
            atr = card.power_on(interface)
    except Exception as exc:
        world.transcript.event(reader.port, f"no ATR: {exc}")
        if cardholder is not None:
            yield from cardholder.remove()
        if interface == "contact":
            return Outcome(Status.FALLBACK, f"chip unreadable ({exc})", interface)
        if type(exc).__name__ == "Collision":
            # Book A: collision -> ask for one card, nothing sent to any card.
            return Outcome(Status.COLLISION, "present one card only", interface)
        return Outcome(Status.TRY_ANOTHER_INTERFACE, f"card not read ({exc})", interface)
    world.transcript.record(reader.port, "rx", atr, "ATR")
    rng = world.rng("kernel")
    kernel: ContactKernel
    if interface == "contactless":
        kernel = ContactlessKernel(cfg, txn, rng)
    else:
        kernel = ContactKernel(cfg, txn, rng)
    outcome = yield from reader.drive(kernel.run(goc), card, interface, cardholder, acquirer)
    try:
        card.power_off()
    except Exception:  # noqa: BLE001 - a card that vanished cannot be powered off
        pass
    if cardholder is not None:
        yield from cardholder.remove()
    outcome.trace = list(kernel.trace)
    return outcome


def _read_track2(world: World, card: Any, cardholder: Any) -> str | None:
    """Track 2 from one swipe; None when the swipe or the stripe reads nothing."""
    if cardholder is not None and not cardholder.swipe_clean():
        return None
    if card is None:
        return None
    if hasattr(card, "swipe"):
        read = card.swipe(world.rng("swipe"))
        return str(read.track2) if read.track2 else None
    tracks = card.tracks()
    t2 = getattr(tracks, "track2", None) if tracks is not None else None
    return str(t2) if t2 else None


def run_virtual(
    world: World,
    card: Any,
    terminal_cfg: TerminalConfig,
    txn: Txn,
    cardholder: Any,
    acquirer: Host | None,
    interface: Interface | None = None,
    goc: GocParams | None = None,
) -> Outcome:
    """Run one transaction to its end in a virtual world and return the outcome."""
    proc = world.process(
        run_transaction(world, card, terminal_cfg, txn, cardholder, acquirer, interface, goc)
    )
    world.run(until=proc)
    outcome = proc.value
    assert isinstance(outcome, Outcome)
    return outcome
