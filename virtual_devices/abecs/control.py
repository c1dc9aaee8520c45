"""``--serve abecs``: a virtual pinpad on a pty for a vendor's host software under test.

The host software opens the ``pinpad`` path the control API lists; the vendor's tests
choose cards and cardholder behaviour through ``POST /scenario/<action>``:

``next-card``   ``{"card": NAME, "clear": false}``: queue a catalogue card;
``cardholder``  ``{"pin": "1234", "cancel_at": "card"|"pin"|null, "walk_away_at": ...,
                  "wrong_pins": 0, "presentation": "insert"|"swipe"|null}``;
``tables``      ``{"clear": true}``: forget the loaded EMV tables (the next GCR says 020).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.control import ControlError, ControlRegistry, Served, register_server

if TYPE_CHECKING:
    from conformance.options import Options
    from simulator.world import World
    from virtual_devices.abecs.pinpad import Pinpad

BEHAVIOUR_KEYS = ("pin", "cancel_at", "walk_away_at", "wrong_pins", "presentation")


def register_actions(registry: ControlRegistry, pinpad: Pinpad) -> None:
    from virtual_devices.abecs.cards import catalogue_card
    from virtual_devices.abecs.customer import Customer

    def next_card(params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("card")
        if not isinstance(name, str):
            raise ControlError("card: a catalogue card name is required")
        try:
            card = catalogue_card(name)
        except KeyError as exc:
            raise ControlError(str(exc.args[0])) from None
        if params.get("clear"):
            pinpad.cards.clear()
        pinpad.queue_card(card)
        return {"queued": len(pinpad.cards)}

    def cardholder(params: dict[str, Any]) -> dict[str, Any]:
        unknown = set(params) - set(BEHAVIOUR_KEYS)
        if unknown:
            raise ControlError(f"unknown cardholder keys {sorted(unknown)}; "
                               f"known: {list(BEHAVIOUR_KEYS)}")
        behaviour = pinpad.customer.behaviour
        for key in BEHAVIOUR_KEYS:
            if key in params:
                setattr(behaviour, key, params[key])
        pinpad.customer = Customer(pinpad.world, behaviour)
        return {}

    def tables(params: dict[str, Any]) -> dict[str, Any]:
        if params.get("clear", True):
            from virtual_devices.abecs.tables import TableStore

            pinpad.tables = TableStore()
        return {"version": pinpad.tables.version(0)}

    registry.action("next-card", "queue the card presented next: {card, clear}", next_card)
    registry.action("cardholder", "set the customer's behaviour: " + ", ".join(BEHAVIOUR_KEYS),
                    cardholder)
    registry.action("tables", "forget the pinpad's EMV tables: {clear}", tables)


async def _start(world: World, registry: ControlRegistry, options: Options) -> Served:
    from simulator.ports.pty import PtyPair, open_serial_end
    from virtual_devices.abecs.labeler import FrameLabeler
    from virtual_devices.abecs.pinpad import Pinpad

    pair = PtyPair(names=("host", "pinpad")).open()
    holder: list[Pinpad] = []
    end = open_serial_end(world, pair.device_path, name="pinpad",
                          labeler=FrameLabeler(lambda: holder[0].session if holder else None))
    pinpad = Pinpad(world, end, secure=(options.profile or "") != "legacy")
    holder.append(pinpad)
    pinpad.start()
    register_actions(registry, pinpad)

    async def close() -> None:
        end.close()
        pair.close()

    return Served({"pinpad": pair.host_path}, close)


register_server("abecs", _start)
