"""Scenario actions of the bridge for a POS under test (``--serve mpos`` and ``serve``).

Actions (``POST /scenario/<name>`` on the control API of :mod:`conformance.control`):

``next-card``   ``{"card": NAME, "reader": 0, "clear": false}``: queue the card the customer
                presents next (``clear`` first drops the cards still queued);
``cardholder``  ``{"reader": 0, "pin": "1234", "cancel_at": "card"|"pin"|null,
                  "walk_away_at": ..., "wrong_pins": 0}``: how the customer behaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.control import ControlError, ControlRegistry, Served, register_server
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.profiles import PROFILES, parse_profile

if TYPE_CHECKING:
    from conformance.options import Options
    from protocol_servers.mpos.lab import MposLab
    from simulator.world import World

BEHAVIOUR_KEYS = ("pin", "cancel_at", "walk_away_at", "wrong_pins")


def register_actions(registry: ControlRegistry, world: World, lab: MposLab) -> None:
    def reader_of(params: dict[str, Any]) -> int:
        idx = params.get("reader", 0)
        if not isinstance(idx, int) or not 0 <= idx < len(lab.readers):
            raise ControlError(f"reader must be 0..{len(lab.readers) - 1}")
        return idx

    def next_card(params: dict[str, Any]) -> dict[str, Any]:
        idx = reader_of(params)
        name = params.get("card")
        if not isinstance(name, str):
            raise ControlError("card: a card name is required")
        try:
            card = card_from_name(world, name)
        except (ValueError, ImportError) as exc:
            raise ControlError(str(exc)) from None
        if params.get("clear"):
            lab.readers[idx].pinpad.cards.clear()  # forget cards an earlier test left
        lab.queue_card(idx, card)
        return {"reader": idx, "queued": len(lab.readers[idx].pinpad.cards)}

    def cardholder(params: dict[str, Any]) -> dict[str, Any]:
        idx = reader_of(params)
        behaviour = lab.readers[idx].pinpad.customer.behaviour
        for key in BEHAVIOUR_KEYS:
            if key in params:
                setattr(behaviour, key, params[key])
        if "wrong_pins" in params:
            lab.readers[idx].pinpad.customer._wrong_left = int(params["wrong_pins"])
        return {"reader": idx}

    registry.action("next-card", "queue the card presented next: {card, reader}", next_card)
    registry.action(
        "cardholder",
        "set the customer's behaviour: {reader, pin, cancel_at, walk_away_at, wrong_pins}",
        cardholder,
    )


async def _start(world: World, registry: ControlRegistry, options: Options) -> Served:
    from protocol_servers.mpos.runtime import start_bridge

    spec = options.profile or "documented"
    profile = parse_profile(spec if spec.split("+")[0] in PROFILES else "documented")
    running = await start_bridge(world, readers=2, profile=profile, port=0)
    register_actions(registry, world, running.lab)
    urls = {"mpos": running.url}
    if running.merchant_url:
        urls["merchant"] = running.merchant_url
    for r in running.lab.readers:
        urls[f"pinpad{r.index}"] = r.port
    return Served(urls, running.close)


register_server("mpos", _start)
