"""The merchant step verifies the online PIN the bridge put in card_hash (mpos-bridge.md
§3.4: ``card_pin`` and ``card_pin_kek``): the acquirer decrypts the pinpad's DUKPT block,
approves the right PIN and declines a wrong one with 55 (Pagar.me code 0055)."""

from __future__ import annotations

from typing import Any

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from simulator.world import World
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.emv.catalogue import catalogue

CARD = "visa-online-pin"
AMOUNT = 2500


def _sale(wrong_pins: int) -> tuple[World, Any, dict[str, Any]]:
    w = World(seed=4)
    pin = catalogue()[CARD].pin
    assert pin is not None
    lab = build_lab(w, readers=1, cards=[card_from_name(w, CARD)],
                    behaviour=Behaviour(pin=pin, wrong_pins=wrong_pins))
    c = MposClient(w, lab.connect())
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", AMOUNT)
        out["process"] = p
        card_hash = p["process"]["card_hash"]
        out["fields"] = lab.backend.read_card_hash(card_hash)
        txn = lab.backend.create_transaction(card_hash, AMOUNT)
        out["txn"] = txn
        yield from c.finish("s", success=True, response_code=int(txn.acquirer_response_code),
                            emv_data=txn.card_emv_response)
        yield from c.close("s")

    w.run(until=w.process(flow()))
    return w, lab, out


def test_right_online_pin_is_authorized() -> None:
    w, lab, out = _sale(0)
    assert out["process"]["process"]["is_online_pin"] is True
    assert out["fields"]["card_pin_mode"] == "online" and len(out["fields"]["card_pin"]) == 16
    assert out["txn"].status == "authorized"
    assert [e.response_code for e in lab.backend.host.ledger.entries] == ["00"]
    assert out["fields"]["card_pin"] not in w.transcript.jsonl()


def test_wrong_online_pin_is_refused_55() -> None:
    w, lab, out = _sale(1)
    assert out["txn"].status == "refused"
    assert int(out["txn"].acquirer_response_code) == 55
    assert [e.response_code for e in lab.backend.host.ledger.entries] == ["55"]
    assert lab.backend.host.ledger.balance()["settled"] == 0
