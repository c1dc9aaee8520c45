"""The card stays in the customer's hand (DECISIONS.md, Pagar.me mpos-bridge).

One chosen card is presented again at every later sale; a customer with no card waits
at the prompt until one is chosen, and choosing it wakes the pinpad that is waiting.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from protocol_servers.pinpad_actions import pinpad_actions
from simulator.world import World

AMOUNT = 1500


def _sales(w: World, lab: Any, count: int, at: float = 0.0) -> list[dict[str, Any]]:
    c = MposClient(w, lab.connect())
    out: list[dict[str, Any]] = []

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        for _ in range(count):
            p = yield from c.process("s", AMOUNT)
            fin = yield from c.finish("s", success=True, response_code=0, emv_data="")
            out.append({"process": p, "finish": fin, "done_at": w.now})
        yield from c.close("s")

    w.run(until=w.process(flow()))
    return out


def test_one_card_pays_two_sales_in_a_row() -> None:
    w = World(seed=4)
    card = card_from_name(w, "visa-chip-pin")
    lab = build_lab(w, readers=1, cards=[card])
    sales = _sales(w, lab, 2)
    assert [s["process"]["response_type"] for s in sales] == [4, 4], sales
    for s in sales:  # the same card both times
        assert lab.backend.read_card_hash(s["process"]["process"]["card_hash"])[
            "card_number"] == card.pan
    assert lab.readers[0].pinpad.in_hand is card


def test_a_card_chosen_later_wakes_a_pinpad_that_is_waiting() -> None:
    w = World(seed=4)
    lab = build_lab(w, readers=1)  # the customer holds no card
    actions = {a.name: a for a in pinpad_actions(
        w, lambda: [r.pinpad for r in lab.readers], lambda name: card_from_name(w, name))}
    chosen_at = 40.0

    def choose():  # type: ignore[no-untyped-def]
        yield w.timeout(chosen_at)
        screen = lab.readers[0].pinpad.display.current.text
        assert "CARTAO" in screen, f"the pinpad should be asking for a card, shows {screen!r}"
        actions["next-card"].apply({"card": "visa-chip-pin"})  # as POST /scenario/next-card

    w.process(choose())
    sales = _sales(w, lab, 2)
    assert [s["process"]["response_type"] for s in sales] == [4, 4], sales
    assert sales[0]["done_at"] > chosen_at  # it waited for the card, then went on
