"""Scenario actions on a virtual pinpad (``--serve abecs``, and every server with pinpads)
change what its customer does."""

from __future__ import annotations

from typing import Any

import pytest

from protocol_servers.abecs.contract import _card
from protocol_servers.pinpad_actions import pinpad_actions
from simulator.control import ControlError, ControlRegistry
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.host import AbecsError
from virtual_devices.abecs.rig import VERSION, aid_records, make_rig


def test_next_card_and_cardholder_actions_drive_the_next_gcr() -> None:
    rig = make_rig()
    registry = ControlRegistry(server="abecs")
    for action in pinpad_actions(rig.world, lambda: [rig.pinpad], _card):
        registry.add(action)
    registry.run("next-card", {"card": "visa-chip-pin"})
    registry.run("cardholder", {"presentation": "swipe"})
    with pytest.raises(ControlError):
        registry.run("next-card", {"card": "no-such-card"})
    with pytest.raises(ControlError):
        registry.run("cardholder", {"shoe_size": 42})

    def flow() -> Any:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, VERSION, aid_records())
        card = yield from rig.host.gcr(m.GcrRequest(100, "261125", "120000", VERSION))
        registry.run("cardholder", {"cancel_at": "card"})
        registry.run("next-card", {"card": "mc-issuer-decline"})
        try:
            yield from rig.host.gcr(m.GcrRequest(100, "261125", "120000", VERSION))
        except AbecsError as exc:
            return card, exc.code
        return card, 0

    card, code = rig.run(flow)
    assert card.card_type == m.CARD_MAGSTRIPE and card.pan == "4761739001010010"
    assert code == 13
