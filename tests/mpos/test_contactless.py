"""A tapped card through the mpos bridge: read as contactless EMV, no PIN under the limit.

``cardloop serve mpos --card visa-contactless`` and a POS's sale: the pinpad's antenna
is on for GCR, the customer taps, GCR answers card type 06 (ABECS 2.12 §6.8.1.3), no
PIN prompt appears under the contactless CVM limit, and the card_hash, the merchant
API and the acquirer all carry the contactless entry mode.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient
from protocol_servers.mpos.lab import build_lab
from protocol_servers.mpos.profiles import DOCUMENTED
from simulator.world import World
from virtual_devices.terminal.events import CardPresented, PinEntryStarted

UNDER_CVM_LIMIT = 4200  # the acquirer's AIDs: CVM required above R$ 50,00


def _sale(card: str, amount: int, seed: int = 5) -> tuple[World, Any, dict[str, Any], list[Any]]:
    w = World(seed=seed)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, card)], profile=DOCUMENTED)
    events: list[Any] = []
    lab.readers[0].pinpad.subscribe(events.append)
    c = MposClient(w, lab.connect())
    out: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        p = yield from c.process("s", amount)
        out["process"] = p
        txn = lab.backend.create_transaction(p["process"]["card_hash"], amount)
        out["txn"] = txn
        out["finish"] = yield from c.finish("s", success=True,
                                            response_code=int(txn.acquirer_response_code),
                                            emv_data=txn.card_emv_response)
        yield from c.close("s")

    w.run(until=w.process(flow()))
    return w, lab, out, events


def _gcr_card_types(w: World) -> list[str]:
    """GCR_CARDTYPE of each successful GCR the pinpad sent, read from the transcript."""
    import json

    out = []
    for line in w.transcript.jsonl().splitlines():
        rec = json.loads(line)
        label = str(rec["label"]).removeprefix("[sec] ")
        if rec["port"].startswith("pinpad") and rec["dir"] == "tx" and label[:6] == "GCR000":
            out.append(label[9:11])  # after RSP_ID, RSP_STAT and RSP_LEN1
    return out


def test_a_contactless_card_is_tapped_read_as_type_06_and_needs_no_pin() -> None:
    w, lab, out, events = _sale("visa-contactless", UNDER_CVM_LIMIT)
    pad = lab.readers[0].pinpad
    assert out["process"]["process"]["status"] == 0  # accepted
    assert not out["process"]["process"]["is_online_pin"]
    assert out["finish"]["response_type"] == 5
    assert [e.how for e in events if isinstance(e, CardPresented)] == ["tap"]
    assert not [e for e in events if isinstance(e, PinEntryStarted)]
    assert not any("SENHA" in s.line1 + s.line2 for s in pad.display.history)
    assert ("GCR", 0) in pad.handled and ("GPN", 0) not in pad.handled
    text = w.transcript.jsonl()
    assert _gcr_card_types(w) == ["06"]  # contactless EMV
    assert "APROXIME" in text
    assert out["txn"].entry_mode == "contactless"
    assert out["txn"].status == "authorized"
    assert lab.backend.host.ledger.entries[-1].meta["interface"] == "contactless"
    assert card_from_name(w, "visa-contactless").pan not in text


def test_the_same_card_inserted_when_the_customer_chooses_to() -> None:
    from virtual_devices.cardholder import Behaviour

    w = World(seed=5)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, "visa-contactless")],
                    profile=DOCUMENTED)
    lab.readers[0].pinpad.customer.behaviour = Behaviour(presentation="insert", pin="1234")
    events: list[Any] = []
    lab.readers[0].pinpad.subscribe(events.append)
    c = MposClient(w, lab.connect())
    got: dict[str, Any] = {}

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        got["p"] = yield from c.process("s", UNDER_CVM_LIMIT)

    w.run(until=w.process(flow()))
    assert [e.how for e in events if isinstance(e, CardPresented)] == ["insert"]
    assert got["p"]["process"]["status"] == 0


def test_next_card_with_entry_chooses_how_the_card_is_presented() -> None:
    from protocol_servers.pinpad_actions import pinpad_actions
    from simulator.control import ControlError

    w = World(seed=5)
    lab = build_lab(w, readers=1, cards=[], profile=DOCUMENTED)
    actions = {a.name: a for a in pinpad_actions(w, lambda: [r.pinpad for r in lab.readers],
                                                 lambda n: card_from_name(w, n))}
    pad = lab.readers[0].pinpad
    actions["next-card"].apply({"card": "visa-contactless", "entry": "swipe"})
    assert pad.customer.behaviour.presentation == "swipe"
    try:
        actions["next-card"].apply({"card": "visa-contactless", "entry": "wave"})
    except ControlError as exc:
        assert "entry must be one of" in str(exc)
    else:
        raise AssertionError("a bad entry was accepted")
    events: list[Any] = []
    pad.subscribe(events.append)
    c = MposClient(w, lab.connect())

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("s")
        yield from c.initialize("s", r["device_list"][0]["id"])
        return (yield from c.process("s", UNDER_CVM_LIMIT))

    w.run(until=w.process(flow()))
    assert [e.how for e in events if isinstance(e, CardPresented)] == ["swipe"]


def test_a_paypass_magstripe_tap_is_type_05_reported_contactless_and_its_cvc3_checked() -> None:
    w, lab, out, events = _sale("mc-paypass-magstripe", UNDER_CVM_LIMIT)
    pad = lab.readers[0].pinpad
    assert _gcr_card_types(w) == ["05"]  # contactless, emulating the stripe
    assert [e.how for e in events if isinstance(e, CardPresented)] == ["tap"]
    assert out["process"]["process"]["status"] == 0
    assert not [e for e in events if isinstance(e, PinEntryStarted)]
    assert ("GOC", 0) not in pad.handled  # a stripe now: no chip processing
    assert out["txn"].entry_mode == "contactless-magstripe"
    assert out["txn"].status == "authorized"
    entry = lab.backend.host.ledger.entries[-1]
    assert entry.approved and entry.meta["interface"] == "contactless"
    assert entry.meta["cryptogram_ok"]  # the issuer verified the CVC3 in track 2
    assert card_from_name(w, "mc-paypass-magstripe").pan not in w.transcript.jsonl()


def test_a_paypass_magstripe_tap_over_the_cvm_limit_asks_the_online_pin() -> None:
    w, lab, out, events = _sale("mc-paypass-magstripe", 25000)  # CTLSCVMLIM is R$ 200,00
    assert _gcr_card_types(w) == ["05"]
    assert [e.kind for e in events if isinstance(e, PinEntryStarted)] == ["online"]
    assert out["process"]["process"]["is_online_pin"]
    assert out["txn"].status == "authorized"
    assert lab.backend.host.ledger.entries[-1].meta["cryptogram_ok"]
