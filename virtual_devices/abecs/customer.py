"""The person at the pinpad: presents cards, types PINs, presses Cancel, walks away.

The pinpad asks its customer for actions through three generator methods that take
simulated time (think time drawn from the world's seeded stream) and return what the
person did. Scenario knobs (mpos-bridge.md §6) are fields of :class:`Behaviour`.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad

CANCEL_KEY = "cancel"
Presentation = Literal["insert", "swipe", "tap"]


class SwipeCard(Protocol):
    """What a magnetic stripe reader sees of a card."""

    pan: str
    track1: str
    track2: str


@dataclass(frozen=True)
class MagstripeCard:
    """A card with only a stripe (or whose chip the scenario ignores).

    Tracks follow ISO 7813: track 2 ``PAN=YYMM SSS discretionary``; track 1
    ``B PAN ^SURNAME/GIVEN^YYMM SSS discretionary``.
    """

    pan: str
    expiry: str  # YYMM
    holder: str = "CARDHOLDER/TEST"
    service_code: str = "101"
    discretionary: str = "0000000000"
    has_chip: bool = False

    @property
    def track2(self) -> str:
        return f"{self.pan}={self.expiry}{self.service_code}{self.discretionary}"

    @property
    def track1(self) -> str:
        return f"B{self.pan}^{self.holder:<26}^{self.expiry}{self.service_code}{self.discretionary}"


@dataclass
class Behaviour:
    """How the customer acts. Defaults: quick, correct, never cancels."""

    # None: the PIN of the card in hand, as a cardholder knows it (the catalogue card's
    # PIN, the one its issuer checks online), "1234" for a card with none on record
    pin: str | None = None
    wrong_pins: int = 0  # wrong PINs typed before the right one
    pins: tuple[str, ...] = ()  # typed at the first prompts in order, then ``pin``
    cancel_at: Literal["card", "pin", "remove", None] = None  # press Cancel instead
    walk_away_at: Literal["card", "pin", None] = None  # do nothing: the pinpad times out
    presentation: Presentation | None = None  # None: insert chip cards, swipe the others
    think_s: tuple[float, float] = (0.8, 2.5)  # uniform range before acting
    typing_s: tuple[float, float] = (0.25, 0.6)  # per PIN digit
    removal_s: tuple[float, float] = (0.5, 2.0)
    keys: list[str] = field(default_factory=list)  # answers to GKY/CKE key waits, in order
    app_choice: int | None = 0  # menu entry picked when the card offers several; None cancels


Action = Generator[Any, Any, Any]


def _pin_of(card: Any) -> str | None:
    """The PIN the catalogue holds for ``card`` (its EMV profile, or a stripe's PAN)."""
    if card is None:
        return None
    profile = getattr(card, "profile", None)
    if profile is not None and getattr(profile, "pin", None):
        return str(profile.pin)
    pan = getattr(card, "pan", None)
    if not pan:
        return None
    from virtual_devices.emv.catalogue import catalogue

    for p in catalogue().values():
        if p.pan == pan and p.pin:
            return str(p.pin)
    return None


def has_chip(card: Any) -> bool:
    """A contact chip: the EMV model lists its interfaces, a stripe model says so."""
    interfaces = getattr(card, "interfaces", None)
    if interfaces is not None:
        return "contact" in interfaces
    return bool(getattr(card, "has_chip", False))


class Customer:
    """Takes cards from the pinpad's queue and acts as :class:`Behaviour` says."""

    def __init__(self, world: World, behaviour: Behaviour | None = None,
                 name: str = "customer") -> None:
        self.world = world
        self.name = name
        self.behaviour = behaviour or Behaviour()
        self.rng = world.rng(name)
        self._wrong_left = self.behaviour.wrong_pins
        self._scripted = list(self.behaviour.pins)
        self.holding: Any = None  # the card last presented (whose PIN is typed by default)

    @classmethod
    def for_profile(cls, world: World, profile: Any, **knobs: Any) -> Customer:
        """The customer a catalogue card expects (its ``[cardholder]`` PINs)."""
        pins = tuple(str(p) for p in profile.cardholder.get("pins", ()))
        return cls(world, Behaviour(pin=profile.pin or "1234", pins=pins, **knobs))

    @classmethod
    def from_cardholder(cls, world: World, cardholder: Any) -> Customer:
        """A customer acting like a :class:`virtual_devices.cardholder.Cardholder` (or a
        :class:`Behaviour`): same PIN, PIN list, cancel and walk-away choices."""
        if isinstance(cardholder, Customer):
            return cardholder
        if isinstance(cardholder, Behaviour):
            return cls(world, cardholder)
        b = getattr(cardholder, "behaviour", None)
        pins = tuple(str(p) for p in getattr(b, "pins", ()) if p not in (None, "cancel"))
        interface = getattr(b, "interface", "contact")
        return cls(world, Behaviour(
            pin=str(getattr(cardholder, "true_pin", "1234")), pins=pins,
            cancel_at="pin" if getattr(b, "cancel_at_pin", False) else None,
            walk_away_at="pin" if getattr(b, "walk_away", False) else None,
            presentation="swipe" if interface == "magstripe" else None,
        ))

    def _wait(self, span: tuple[float, float]) -> Action:
        yield self.world.timeout(round(self.rng.uniform(*span), 3))

    def _forever(self) -> Action:
        yield self.world.event()  # never fires: the pinpad's own timer or CAN ends the wait

    def present_card(self, pinpad: Pinpad) -> Action:
        """Returns ``(card, presentation)`` or :data:`CANCEL_KEY`."""
        b = self.behaviour
        if b.walk_away_at == "card":
            yield from self._forever()
        yield from self._wait(b.think_s)
        if b.cancel_at == "card":
            return CANCEL_KEY
        card = pinpad.take_card()
        while card is None:
            # empty-handed: the prompt waits until someone gives the customer a card
            # (the control API's next-card), or the pinpad's timer or CAN ends it
            yield pinpad.card_chosen()
            yield from self._wait(b.think_s)
            card = pinpad.take_card()
        self.holding = card
        how: Presentation = b.presentation or ("insert" if has_chip(card) else "swipe")
        if pinpad.fallback_pending:
            how = "swipe"  # the reader said the chip failed: swipe instead
        done = {"insert": "inserted", "swipe": "swiped", "tap": "tapped"}[how]
        # the PAN is registered with the redactor, so the transcript shows it masked
        self.world.transcript.event(self.name, f"card {done}: {getattr(card, 'pan', '?')}")
        return card, how

    def enter_pin(self, pinpad: Pinpad, min_len: int, max_len: int) -> Action:
        """Returns the digits typed, or :data:`CANCEL_KEY`."""
        b = self.behaviour
        if b.walk_away_at == "pin":
            yield from self._forever()
        yield from self._wait(b.think_s)
        if b.cancel_at == "pin":
            return CANCEL_KEY
        pin = b.pin or _pin_of(self.holding) or "1234"
        if self._scripted:
            pin = self._scripted.pop(0)
        elif self._wrong_left > 0:
            self._wrong_left -= 1
            pin = "".join(str((int(d) + 1) % 10) for d in pin)
        for _ in pin:
            yield from self._wait(b.typing_s)
        typed = pin[:max_len]
        self.world.transcript.event(self.name, f"PIN typed: {'*' * len(typed)}")
        return typed

    def press_key(self, pinpad: Pinpad) -> Action:
        """GKY/CKE: the next key from ``Behaviour.keys`` (``enter`` when none is left)."""
        yield from self._wait(self.behaviour.think_s)
        if self.behaviour.cancel_at == "pin":
            return CANCEL_KEY
        return self.behaviour.keys.pop(0) if self.behaviour.keys else "enter"

    def remove_card(self, pinpad: Pinpad) -> Action:
        if self.behaviour.cancel_at == "remove":
            yield from self._forever()
        yield from self._wait(self.behaviour.removal_s)
        self.world.transcript.event(self.name, "card removed")
