"""The cardholder: presents the card, picks an application, types the PIN, errs.

One model for every terminal: the EMV reader (:mod:`virtual_devices.emv.kernel.reader`)
and the ABECS pinpad (:mod:`virtual_devices.abecs.pinpad`) both ask a
:class:`Cardholder`, and one :class:`Behaviour` says what the person does.

Behaviour is data: which interface to use, the PIN to type at each attempt, the
application to pick, and the mistakes to make (early removal, wrong PIN, walking away,
cancelling, bad swipes). At the reader every action waits a time drawn around its mean
from ``cardholder_timings.toml`` with ``world.rng("cardholder")``; at a pinpad the
think, typing and removal times are uniform ranges of the behaviour drawn from the
cardholder's own named stream (``customer`` unless named), so a seed reproduces the
same hesitations at either.

The methods are SimPy generators the reader or the pinpad calls when it needs the
person: ``present``/``choose_app``/``enter_pin``/``remove`` at the reader,
``present_card``/``type_pin``/``press_key``/``remove_card`` at the pinpad.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from simulator.timings import Timings, load_timings
from simulator.world import World
from virtual_devices.emv.kernel.messages import CANCEL, Candidate, EnterPin

Interface = Literal["contact", "contactless", "magstripe"]

# Spread of a drawn time around its mean (uniform, +/- this fraction): people vary.
SPREAD = 0.3


CANCEL_KEY = "cancel"  # what a pinpad customer "types" when pressing Cancel
# GCD's table prompts (ABECS 2.12 §3.3.8) at which a person copies the card in hand
CARD_PROMPTS = {"DIGITE NÚMERO DO CARTÃO": "pan", "DIGITE O MÊS (MM)": "month",
                "DIGITE O ANO (AA)": "year", "DIGITE CÓDIGO DE SEGURANÇA": "code"}
Presentation = Literal["insert", "swipe", "tap"]
Stage = Literal["card", "pin", "remove"]


@dataclass
class Behaviour:
    """What this cardholder does.

    ``pins``: what to type at each PIN prompt in order (``None`` bypasses, ``"cancel"``
    presses cancel); after the list runs out the true PIN is typed (``pin``; None: the
    PIN of the card in hand, as a cardholder knows it). ``app_choice`` is an index or a
    label (``None`` = cancel the menu). ``remove_after_apdus`` pulls the card out after
    that many exchanges. ``walk_away``/``walk_away_at`` leave (at the PIN prompt, or at
    the card prompt of a pinpad); ``cancel_at_pin``/``cancel_at`` press Cancel there.
    ``bad_swipes`` garbles that many swipes before a clean one. ``second_card_in_field``
    taps with another contactless card of the wallet held against the first (the
    collision EMV contactless readers must detect). At a pinpad: ``wrong_pins`` wrong
    PINs come before the right one, ``presentation`` forces insert/swipe/tap (None:
    insert chip cards, swipe the others), ``keys`` answer GKY/CKE waits in order, and
    ``think_s``/``typing_s``/``removal_s`` are the uniform ranges of the person's pace.
    """

    interface: Interface = "contact"
    pins: tuple[str | None, ...] = ()
    app_choice: int | str | None = 0
    remove_after_apdus: int | None = None
    walk_away: bool = False
    cancel_at_pin: bool = False
    bad_swipes: int = 0
    second_card_in_field: bool = False
    follow_prompts: bool = True  # insert/tap/swipe again when the reader says so
    verify_on_phone: bool = True  # after "see phone", unlock and tap again
    pin: str | None = None
    wrong_pins: int = 0
    cancel_at: Stage | None = None
    walk_away_at: Literal["card", "pin"] | None = None
    presentation: Presentation | None = None
    think_s: tuple[float, float] = (0.8, 2.5)
    typing_s: tuple[float, float] = (0.25, 0.6)
    removal_s: tuple[float, float] = (0.5, 2.0)
    keys: list[str] = field(default_factory=list)
    # at a pinpad's MNU menu: the option index chosen (None presses cancel); at a GCD
    # prompt: what is typed, in order (when none is left, a run of digits of the
    # shortest accepted length, at least one)
    menu_choice: int | None = 0
    entries: list[str] = field(default_factory=list)

    # The two spellings of one choice (the reader's flags, the pinpad's stages) say the
    # same thing; the scenario control may set either while a run goes on.
    def cancels_at(self, stage: Stage) -> bool:
        return self.cancel_at == stage or (stage == "pin" and self.cancel_at_pin)

    def walks_away_at(self, stage: Stage) -> bool:
        return self.walk_away_at == stage or (stage == "pin" and self.walk_away)

    def presents(self, card: Any, antenna: bool = False) -> Presentation:
        """How this person presents ``card`` at a pinpad.

        A contactless card is tapped when the pinpad's antenna is on (the prompt says
        "APROXIME"); a forced ``tap`` with the antenna off, or a card that cannot be
        tapped, falls back to inserting a chip card and swiping the others.
        """
        can_tap = antenna and has_contactless(card)
        if self.presentation is not None and (self.presentation != "tap" or can_tap):
            return self.presentation
        if self.interface == "magstripe":
            return "swipe"
        if can_tap and self.presentation in (None, "tap"):
            return "tap"
        return "insert" if has_chip(card) else "swipe"


Action = Generator[Any, Any, Any]


class CardQueue(Protocol):
    """What a pinpad offers its customer: the cards in hand, and whether it asked for
    a swipe after a chip failure."""

    @property
    def fallback_pending(self) -> bool: ...

    def take_card(self) -> Any: ...

    def card_chosen(self) -> Any:
        """An event that fires when the customer is next given a card."""
        ...


def pin_of(card: Any) -> str | None:
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


def has_contactless(card: Any) -> bool:
    """A contactless interface (the EMV model lists its interfaces)."""
    interfaces = getattr(card, "interfaces", None)
    return interfaces is not None and "contactless" in interfaces


class Cardholder:
    def __init__(
        self,
        world: World,
        behaviour: Behaviour | None = None,
        pin: str | None = None,
        timings: Timings | None = None,
        name: str = "customer",
    ) -> None:
        self.world = world
        self.name = name
        self.behaviour = behaviour or Behaviour()
        self.pin = pin  # None: the behaviour's, else the PIN of the card in hand
        self.timings = timings or load_timings("virtual_devices", "cardholder_timings.toml")
        self._drawn = world.rng("cardholder")  # the reader's paces
        self.rng = world.rng(name)  # the pinpad's paces
        self._wrong_left = self.behaviour.wrong_pins
        self._scripted = [p for p in self.behaviour.pins if p not in (None, CANCEL)]
        self.holding: Any = None  # the card last presented at a pinpad
        self.pin_prompts = 0
        self.pinpad_pin_prompts = 0  # PIN prompts seen at a pinpad (for ``pins``' Nones)
        self.apdus_seen = 0
        self.card_in = False
        self.swipes = 0
        self.actions: list[str] = []
        self._second: Any = None  # the wallet's other contactless card, once taken out

    def _wait(self, name: str) -> Any:
        mean = self.timings[name]
        return self.world.timeout(mean * self._drawn.uniform(1 - SPREAD, 1 + SPREAD))

    @property
    def true_pin(self) -> str:
        """The PIN this person knows for the card at the reader."""
        return self.pin or self.behaviour.pin or "1234"

    @classmethod
    def for_profile(cls, world: World, profile: Any, **knobs: Any) -> Cardholder:
        """The cardholder a catalogue card expects (its ``[cardholder]`` PINs)."""
        pins = tuple(str(p) for p in profile.cardholder.get("pins", ()))
        return cls(world, Behaviour(pin=profile.pin or "1234", pins=pins, **knobs))

    def _log(self, what: str) -> None:
        self.actions.append(what)
        self.world.transcript.event("cardholder", what)

    # -- presenting ----------------------------------------------------------------------
    def present(self, interface: Interface) -> Generator[Any, Any, None]:
        step = {"contact": "insert", "contactless": "tap", "magstripe": "swipe"}[interface]
        yield self._wait(step)
        self.card_in = interface == "contact"
        self._log(f"{step}s the card")

    def in_field(self, card: Any) -> Any:
        """What the reader's field holds when this cardholder taps ``card``.

        Usually the card itself; with ``second_card_in_field`` a
        :class:`~virtual_devices.emv.field.Field` holding ``card`` and a second
        contactless card from the wallet, so the reader's polling sees two answers.
        """
        if not self.behaviour.second_card_in_field:
            return card
        from virtual_devices.emv.field import Field

        field = card if isinstance(card, Field) else Field()
        if field is not card:
            field.enter(card)
        field.enter(self._wallet_card(getattr(card, "name", "")))
        self._log("taps with a second card in the field")
        return field

    def _wallet_card(self, presented: str) -> Any:
        """Another contactless card: the first in catalogue order that is not ``presented``."""
        from virtual_devices.emv.card import load_card
        from virtual_devices.emv.catalogue import catalogue

        if self._second is None:
            name = next(n for n, p in sorted(catalogue().items())
                        if "contactless" in p.interfaces and n != presented)
            self._second = load_card(name).place_in(self.world)
        return self._second

    def swipe_clean(self) -> bool:
        """Whether this swipe reads well (the first ``bad_swipes`` do not)."""
        self.swipes += 1
        return self.swipes > self.behaviour.bad_swipes

    def still_present(self) -> bool:
        """Called by the reader before each APDU; False once the card is pulled out."""
        self.apdus_seen += 1
        limit = self.behaviour.remove_after_apdus
        if limit is not None and self.apdus_seen > limit and self.card_in:
            self.card_in = False
            self._log("pulls the card out too early")
        return limit is None or self.apdus_seen <= limit

    def remove(self) -> Generator[Any, Any, None]:
        if self.card_in:
            yield self._wait("remove")
            self.card_in = False
            self._log("removes the card")

    def verify_on_phone(self) -> Generator[Any, Any, bool]:
        if not self.behaviour.verify_on_phone:
            return False
        yield self._wait("phone_verify")
        self._log("verifies on the phone")
        return True

    # -- answering the reader ---------------------------------------------------------------
    def choose_app(self, candidates: tuple[Candidate, ...]) -> Generator[Any, Any, int | None]:
        yield self._wait("app_choice")
        choice = self.behaviour.app_choice
        if choice is None:
            self._log("cancels the application menu")
            return None
        if isinstance(choice, str):
            for i, c in enumerate(candidates):
                if c.label.lower() == choice.lower():
                    self._log(f"chooses {c.label}")
                    return i
            self._log(f"does not find {choice!r}; cancels")
            return None
        index = min(max(choice, 0), len(candidates) - 1)
        self._log(f"chooses {candidates[index].label}")
        return index

    def enter_pin(self, prompt: EnterPin) -> Generator[Any, Any, str | None]:
        """Type the PIN (or not). Walking away never returns: the reader times out."""
        b = self.behaviour
        attempt = self.pin_prompts
        self.pin_prompts += 1
        if b.walks_away_at("pin"):
            self._log("walks away at the PIN prompt")
            yield self.world.event()  # never triggered
            return None
        yield self._wait("pin_think")
        if b.cancels_at("pin"):
            self._log("presses cancel at the PIN prompt")
            return CANCEL
        pin = b.pins[attempt] if attempt < len(b.pins) else self.true_pin
        if pin is None:
            self._log("bypasses the PIN")
            return None
        if pin == CANCEL:
            self._log("presses cancel at the PIN prompt")
            return CANCEL
        for _ in pin:
            yield self._wait("pin_digit")
        yield self._wait("pin_confirm")
        self._log(f"types a {len(pin)}-digit PIN ({'right' if pin == self.true_pin else 'wrong'})")
        return pin

    # -- at a pinpad (virtual_devices.abecs.pinpad) -------------------------------------------
    def _pace(self, span: tuple[float, float]) -> Action:
        yield self.world.timeout(round(self.rng.uniform(*span), 3))

    def _forever(self) -> Action:
        yield self.world.event()  # never fires: the pinpad's own timer or CAN ends the wait

    def present_card(self, pinpad: CardQueue) -> Action:
        """Returns ``(card, presentation)`` or :data:`CANCEL_KEY`."""
        b = self.behaviour
        if b.walks_away_at("card"):
            yield from self._forever()
        yield from self._pace(b.think_s)
        if b.cancels_at("card"):
            return CANCEL_KEY
        card = pinpad.take_card()
        while card is None:
            # empty-handed: the prompt waits until someone gives the customer a card
            # (the control API's next-card), or the pinpad's timer or CAN ends it
            yield pinpad.card_chosen()
            yield from self._pace(b.think_s)
            card = pinpad.take_card()
        self.holding = card
        how = b.presents(card, antenna=bool(getattr(pinpad, "antenna_on", False)))
        if how == "tap" and getattr(pinpad, "insert_requested", False):
            how = "insert" if has_chip(card) else "swipe"  # 087: the pinpad said so
        if pinpad.fallback_pending:
            how = "swipe"  # the reader said the chip failed: swipe instead
        done = {"insert": "inserted", "swipe": "swiped", "tap": "tapped"}.get(how, how)
        # the PAN is registered with the redactor, so the transcript shows it masked
        self.world.transcript.event(self.name, f"card {done}: {getattr(card, 'pan', '?')}")
        return card, how

    def type_pin(self, pinpad: CardQueue, min_len: int, max_len: int) -> Action:
        """Returns the digits typed, "" for OK with no digits (a ``None`` in ``pins``: a
        PIN bypass, which the pinpad may refuse), or :data:`CANCEL_KEY`."""
        b = self.behaviour
        if b.walks_away_at("pin"):
            yield from self._forever()
        yield from self._pace(b.think_s)
        if b.cancels_at("pin"):
            return CANCEL_KEY
        attempt = self.pinpad_pin_prompts
        self.pinpad_pin_prompts += 1
        if attempt < len(b.pins) and b.pins[attempt] is None:
            # [OK/ENTRA] with no digits: the pinpad takes it as a PIN bypass, or refuses it
            self.world.transcript.event(self.name, "presses OK without a PIN (bypass)")
            return ""
        pin = self.pin or b.pin or pin_of(self.holding) or "1234"
        if self._scripted:
            pin = str(self._scripted.pop(0))
        elif self._wrong_left > 0:
            self._wrong_left -= 1
            pin = "".join(str((int(d) + 1) % 10) for d in pin)
        for _ in pin:
            yield from self._pace(b.typing_s)
        typed = pin[:max_len]
        self.world.transcript.event(self.name, f"PIN typed: {'*' * len(typed)}")
        return typed

    def press_key(self, pinpad: CardQueue) -> Action:
        """GKY/CKE: the next key from ``Behaviour.keys`` (``enter`` when none is left)."""
        yield from self._pace(self.behaviour.think_s)
        if self.behaviour.cancels_at("pin"):
            return CANCEL_KEY
        return self.behaviour.keys.pop(0) if self.behaviour.keys else "enter"

    def choose_option(self, pinpad: CardQueue, title: str, options: list[str]) -> Action:
        """MNU: the index of the option chosen (``Behaviour.menu_choice``), or cancel."""
        yield from self._pace(self.behaviour.think_s)
        choice = self.behaviour.menu_choice
        if choice is None or self.behaviour.cancels_at("pin"):
            self._log(f"cancels the menu {title!r}")
            return CANCEL_KEY
        index = min(max(choice, 0), len(options) - 1)
        self._log(f"chooses {options[index]!r}")
        return index

    def type_digits(self, pinpad: CardQueue, prompt: str, min_len: int, max_len: int) -> Action:
        """GCD: the digits typed at a data prompt, or cancel (``Behaviour.entries``).

        At the card prompts of keyed entry (number, expiry month and year, security
        code) the person reads the card in hand and types what is printed on it, at the
        copying pace of ``cardholder_timings.toml``; ``entries`` still come first, so a
        scenario can mistype. Any other prompt gets ``entries`` or a run of digits.
        """
        b = self.behaviour
        asks = CARD_PROMPTS.get(prompt)
        if asks is not None:
            return (yield from self._type_card_data(pinpad, asks, prompt, max_len))
        yield from self._pace(b.think_s)
        if b.cancels_at("pin"):
            return CANCEL_KEY
        if b.entries:
            value = b.entries.pop(0)[:max_len]
        else:
            value = ("1234567890" * 4)[: max(min_len, 1)]
        for _ in value:
            yield from self._pace(b.typing_s)
        self._log(f"types {len(value)} digits at {prompt!r}")
        return value

    def _type_card_data(self, pinpad: CardQueue, asks: str, prompt: str,
                        max_len: int) -> Action:
        from virtual_devices.emv.printed import printed

        b = self.behaviour
        if b.walks_away_at("card"):
            yield from self._forever()
        yield self._wait("keyed_think")
        if b.cancels_at("card") or b.cancels_at("pin"):
            self._log(f"presses cancel at {prompt!r}")
            return CANCEL_KEY
        if asks == "pan" or self.holding is None:
            self.holding = pinpad.take_card()  # the card to key: the next one chosen
        face = printed(self.holding) if self.holding is not None else None
        if b.entries:
            value = b.entries.pop(0)[:max_len]
        elif face is None:
            value = ""  # no card in hand: nothing to copy, ENTER on an empty field
        else:
            value = {"pan": face.pan, "month": face.expiry_mm, "year": face.expiry_yy,
                     "code": face.security_code}[asks][:max_len]
        if asks == "pan" and value:
            self.world.redactor.add_pan(value)  # typed card numbers are card data
        for _ in value:
            yield self._wait("keyed_digit")
        yield self._wait("pin_confirm")
        shown = f"{len(value)} digits" if asks in ("pan", "code") else f"{value!r}"
        self._log(f"types {shown} at {prompt!r}")
        return value

    def remove_card(self, pinpad: CardQueue) -> Action:
        if self.behaviour.cancels_at("remove"):
            yield from self._forever()
        yield from self._pace(self.behaviour.removal_s)
        self.world.transcript.event(self.name, "card removed")
