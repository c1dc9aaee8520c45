"""Control actions on virtual ABECS pinpads: the next card, and how the cardholder acts.

Every server that drives pinpads (``mpos``, ``p3``, ``abecs`` and the servers to
come) offers the same two knobs under the same names and parameters, so a vendor's
test script and the scenario files read alike across protocols:

``next-card``   ``{"card": NAME, "reader": 0, "clear": false, "entry": "tap" | "insert"
                | "swipe" | null}``: the customer at that pinpad presents this catalogue
                card next (``clear`` first drops the cards still queued; ``entry`` says
                how the customer presents cards from now on, as ``--entry`` does);
``cardholder``  ``{"reader": 0, "pin": "1234", "wrong_pins": 0, "cancel_at": "card" |
                "pin" | "remove" | null, "walk_away_at": "card" | "pin" | null,
                "presentation": "insert" | "swipe" | "tap" | null}``: how the customer
                behaves from now on.

``reader`` indexes the pinpads the server lists; a real pinpad (no virtual customer)
refuses both, since a person holds its cards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from simulator.control import ControlAction, ControlError

if TYPE_CHECKING:
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad

BEHAVIOUR_CHOICES: dict[str, tuple[Any, ...]] = {
    "cancel_at": ("card", "pin", "remove", None),
    "walk_away_at": ("card", "pin", None),
    "presentation": ("insert", "swipe", "tap", None),
}
BEHAVIOUR_KEYS = ("pin", "wrong_pins", "cancel_at", "walk_away_at", "presentation")


def behaviour_knobs(params: dict[str, Any], selector: str = "reader") -> dict[str, Any]:
    """The behaviour fields in ``params``, checked; ControlError names what is wrong."""
    unknown = set(params) - set(BEHAVIOUR_KEYS) - {selector}
    if unknown:
        raise ControlError(f"unknown cardholder keys {sorted(unknown)}; "
                           f"known: {list(BEHAVIOUR_KEYS)}")
    knobs = {k: params[k] for k in BEHAVIOUR_KEYS if k in params}
    for key, allowed in BEHAVIOUR_CHOICES.items():
        if key in knobs and knobs[key] not in allowed:
            raise ControlError(f"{key} must be one of {list(allowed)}")
    pin = knobs.get("pin")
    if pin is not None and not (isinstance(pin, str) and pin.isdigit() and 4 <= len(pin) <= 12):
        raise ControlError("pin must be 4 to 12 digits (or null: the card's own PIN)")
    wrong = knobs.get("wrong_pins", 0)
    if isinstance(wrong, bool) or not isinstance(wrong, int) or wrong < 0:
        raise ControlError("wrong_pins must be a whole number, 0 or more")
    return knobs


def pinpad_actions(
    world: World,
    pinpads: Callable[[], Sequence[Pinpad | None]],
    card_from_name: Callable[[str], Any],
    *,
    on_card: Callable[[int, str, Any], None] | None = None,
    on_behaviour: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[ControlAction]:
    """``next-card`` and ``cardholder`` over the pinpads ``pinpads()`` lists.

    ``card_from_name`` makes a card from a catalogue name (raising ValueError or
    KeyError for an unknown one). ``on_card`` and ``on_behaviour`` let a server keep its
    own view in step (e.g. the PayServer's reader hands cards in turn and builds each
    card's customer).
    """

    def pinpad_of(params: dict[str, Any]) -> tuple[int, Pinpad]:
        pads = pinpads()
        idx = params.get("reader", 0)
        if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(pads):
            raise ControlError(f"reader must be 0..{len(pads) - 1}" if pads
                               else "this server has no pinpad")
        pad = pads[idx]
        if pad is None:
            raise ControlError(f"reader {idx} is a real pinpad: a person holds its cards")
        return idx, pad

    def next_card(params: dict[str, Any]) -> dict[str, Any]:
        idx, pad = pinpad_of(params)
        unknown = set(params) - {"card", "reader", "clear", "entry"}
        if unknown:
            raise ControlError(f"unknown next-card keys {sorted(unknown)}")
        name = params.get("card")
        if not isinstance(name, str):
            raise ControlError("card: a card name is required")
        entry = params.get("entry")
        if entry not in BEHAVIOUR_CHOICES["presentation"]:
            raise ControlError(f"entry must be one of {list(BEHAVIOUR_CHOICES['presentation'])}")
        try:
            card = card_from_name(name)
        except (ValueError, KeyError, ImportError) as exc:
            raise ControlError(str(exc.args[0] if exc.args else exc)) from None
        pan = getattr(card, "pan", None)
        if pan:
            world.redactor.add_pan(str(pan))
        if params.get("clear"):
            pad.cards.clear()  # forget cards an earlier test left
        pad.queue_card(card)
        if "entry" in params:
            pad.customer.behaviour.presentation = entry
        if on_card is not None:
            on_card(idx, name, card)
        return {"reader": idx, "queued": len(pad.cards)}

    def cardholder(params: dict[str, Any]) -> dict[str, Any]:
        idx, pad = pinpad_of(params)
        knobs = behaviour_knobs(params)
        behaviour = pad.customer.behaviour
        for key, value in knobs.items():
            setattr(behaviour, key, value)
        # a fresh customer with that behaviour: counters such as wrong PINs left restart
        pad.customer = type(pad.customer)(world, behaviour)
        if on_behaviour is not None:
            on_behaviour(idx, knobs)
        return {"reader": idx}

    return [
        ControlAction("next-card", "queue the card presented next: {card, reader, clear, entry}",
                      next_card),
        ControlAction("cardholder", "set the customer's behaviour: {reader, "
                      + ", ".join(BEHAVIOUR_KEYS) + "}", cardholder),
    ]
