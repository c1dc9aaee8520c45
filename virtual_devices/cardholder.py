"""The cardholder: presents the card, picks an application, types the PIN, errs.

Behaviour is data (:class:`Behaviour`): which interface to use, the PIN to type at
each attempt, the application to pick, and the mistakes to make (early removal,
wrong PIN, walking away at the PIN prompt, cancelling, bad swipes). Timing comes
from ``cardholder_timings.toml``: every action waits a time drawn around its mean
from ``world.rng("cardholder")`` so a seed reproduces the same hesitations.

The methods are SimPy generators the reader calls when the kernel asks something.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal

from simulator.timings import Timings, load_timings
from simulator.world import World
from virtual_devices.emv.kernel.messages import CANCEL, Candidate, EnterPin

Interface = Literal["contact", "contactless", "magstripe"]

# Spread of a drawn time around its mean (uniform, +/- this fraction): people vary.
SPREAD = 0.3


@dataclass(frozen=True)
class Behaviour:
    """What this cardholder does.

    ``pins``: what to type at each PIN prompt in order (``None`` bypasses, ``"cancel"``
    presses cancel); after the list runs out the true PIN is typed. ``app_choice`` is
    an index or a label (``None`` = cancel the menu). ``remove_after_apdus`` pulls the
    card out after that many exchanges. ``walk_away`` leaves at the PIN prompt.
    ``bad_swipes`` garbles that many swipes before a clean one. ``second_card_in_field``
    taps with another contactless card of the wallet held against the first (the
    collision EMV contactless readers must detect).
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


class Cardholder:
    def __init__(
        self,
        world: World,
        behaviour: Behaviour | None = None,
        pin: str = "1234",
        timings: Timings | None = None,
    ) -> None:
        self.world = world
        self.behaviour = behaviour or Behaviour()
        self.true_pin = pin
        self.timings = timings or load_timings("virtual_devices", "cardholder_timings.toml")
        self.rng = world.rng("cardholder")
        self.pin_prompts = 0
        self.apdus_seen = 0
        self.card_in = False
        self.swipes = 0
        self.actions: list[str] = []
        self._second: Any = None  # the wallet's other contactless card, once taken out

    def _wait(self, name: str) -> Any:
        mean = self.timings[name]
        return self.world.timeout(mean * self.rng.uniform(1 - SPREAD, 1 + SPREAD))

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
        if b.walk_away:
            self._log("walks away at the PIN prompt")
            yield self.world.event()  # never triggered
            return None
        yield self._wait("pin_think")
        if b.cancel_at_pin:
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
