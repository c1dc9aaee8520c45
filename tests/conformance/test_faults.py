"""The fault catalogue: complete per layer, loadable, and its faults really act."""

from __future__ import annotations

import json
import random
import struct

import pytest

from conformance import mutations
from conformance.faults import (
    EXPECTS,
    LAYERS,
    CatalogueError,
    load_catalogue,
    note,
    parse_catalogue,
)
from simulator.streams import byte_link
from simulator.world import World

REQUIRED = {
    "serial": {"noise", "dropped_bytes", "duplicated_bytes", "overrun", "unplugged"},
    "transport": {"latency", "slicing", "stall", "reset", "half_open", "ping_unanswered"},
    "protocol": {
        "malformed_json", "wrong_types", "unknown_fields", "duplicate_message",
        "reordered_messages", "oversized_frame", "bad_length_prefix",
    },
    "card": {"removed_early", "mute", "collision"},
    "human": {"cancel", "walk_away", "wrong_pin", "late_signature"},
    "backend": {"slow", "silent", "down", "answers_twice", "late_after_reversal"},
    "device": {"reboot", "power_loss"},
    "pos": {"retry_unanswered", "connection_lost", "concurrent_charges"},
}


def test_catalogue_has_at_least_forty_kinds() -> None:
    assert len(load_catalogue()) >= 40


def test_catalogue_covers_every_layer_with_an_expected_outcome() -> None:
    cat = load_catalogue()
    for layer in LAYERS:
        names = {s.name for s in cat.layer(layer)}
        assert REQUIRED[layer] <= names, f"{layer} lacks {REQUIRED[layer] - names}"
    for spec in cat.values():
        assert spec.expect in EXPECTS and spec.expected.strip()


def test_every_port_fault_builds_its_primitive() -> None:
    for spec in load_catalogue().of_kind("port"):
        fault = spec.to_fault("pinpad")
        assert type(fault).__name__.lower() == spec.primitive
        assert fault.port == "pinpad"


@pytest.mark.parametrize(
    "text, error",
    [
        ('[wire.x]\ntitle="t"\nkind="port"\nprimitive="drop"\nexpect="error"\nexpected="e"\n',
         "unknown layer"),
        ('[serial.x]\ntitle="t"\nkind="port"\nprimitive="zap"\nexpect="error"\nexpected="e"\n',
         "primitive"),
        ('[card.x]\ntitle="t"\nkind="card"\nexpect="error"\nexpected="e"\n', "needs an action"),
        ('[card.x]\ntitle="t"\nkind="card"\naction="a"\nexpect="maybe"\nexpected="e"\n',
         "expect must be"),
    ],
    ids=["layer", "primitive", "action", "expect"],
)
def test_inconsistent_catalogue_refused(text: str, error: str) -> None:
    with pytest.raises(CatalogueError, match=error):
        parse_catalogue(text)


def _send_through(fault_id: str, payload: bytes, seed: int = 3) -> tuple[bytes, World]:
    w = World(seed=seed)
    w.faults.add(load_catalogue()[fault_id].to_fault("pinpad", "rx"))
    host, pinpad = byte_link(w, "host", "pinpad")
    got = bytearray()

    def reader():  # type: ignore[no-untyped-def]
        while True:
            chunk = yield pinpad.read()
            if not chunk:
                return
            got.extend(chunk)

    def writer():  # type: ignore[no-untyped-def]
        host.write(payload)
        yield w.timeout(1.0)
        host.close()

    w.process(writer())
    done = w.process(reader())
    w.run(until=w.any_of([done, w.timeout(60.0)]))
    return bytes(got), w


def test_overrun_slices_but_keeps_every_byte_and_is_in_the_history() -> None:
    payload = bytes(range(40))
    got, w = _send_through("serial.overrun", payload)
    assert got == payload
    assert any("fault: split" in e.label for e in w.transcript)
    assert len(w.transcript.select(port="pinpad", direction="rx")) == 7


def test_noise_changes_exactly_one_bit() -> None:
    payload = bytes(32)
    got, w = _send_through("serial.noise", payload)
    assert len(got) == len(payload)
    assert sum(bin(a ^ b).count("1") for a, b in zip(got, payload, strict=True)) == 1
    assert any("fault: corrupt" in e.label for e in w.transcript)


def test_faults_replay_from_seed() -> None:
    a, _ = _send_through("serial.overrun", bytes(range(64)), seed=9)
    wa = _send_through("serial.overrun", bytes(range(64)), seed=9)[1].transcript.jsonl()
    wb = _send_through("serial.overrun", bytes(range(64)), seed=9)[1].transcript.jsonl()
    assert wa == wb and a == bytes(range(64))


def test_action_faults_are_recorded() -> None:
    w = World(seed=1)
    note(w, "cardholder", load_catalogue()["human.wrong_pin"], "at PIN prompt")
    (entry,) = list(w.transcript)
    assert entry.label == "fault: human.wrong_pin (wrong_pin) at PIN prompt"


def test_mutations_break_messages_as_named() -> None:
    rng = random.Random(5)
    good = json.dumps({"request_type": 3, "amount": 1000, "context_id": "c1"})
    with pytest.raises(ValueError):
        json.loads(mutations.malformed_json(good, rng))
    typed = json.loads(mutations.wrong_types(good, rng, field="amount"))
    assert typed["amount"] == "1000"
    assert json.loads(mutations.unknown_fields(good, rng))["x_unknown_field"] >= 0
    assert len(mutations.oversized(good, rng, size=5000)) >= 5000
    frame = struct.pack(">I", 5) + b"hello"
    (n,) = struct.unpack(">I", mutations.bad_length_prefix(frame, rng)[:4])
    assert n != 5
    msgs = ["a", "b", "c"]
    assert sorted(mutations.reorder(msgs, rng)) == msgs and mutations.reorder(msgs, rng) != msgs
    dup = mutations.duplicate(msgs, rng)
    assert len(dup) == 4 and set(dup) == set(msgs)


def test_human_and_card_faults_become_behaviours() -> None:
    from conformance.faults import UnsupportedFault, behaviour_kwargs
    from virtual_devices.abecs.customer import Behaviour as CustomerBehaviour
    from virtual_devices.cardholder import Behaviour as CardholderBehaviour

    cat = load_catalogue()
    made: dict[str, set[str]] = {"customer": set(), "cardholder": set()}
    for spec in cat.layer("human") + cat.layer("card"):
        for who, cls in (("customer", CustomerBehaviour), ("cardholder", CardholderBehaviour)):
            try:
                kwargs = behaviour_kwargs(spec, who)
            except UnsupportedFault:
                continue
            b = cls(**kwargs)
            for key, value in kwargs.items():
                assert getattr(b, key) == value
            made[who].add(spec.name)
    assert made["customer"] == {"cancel", "walk_away", "wrong_pin"}
    assert made["cardholder"] == {"cancel", "walk_away", "wrong_pin", "removed_early",
                                  "collision"}
    with pytest.raises(UnsupportedFault, match="late_signature"):
        behaviour_kwargs(cat["human.late_signature"], "customer")


def test_every_card_and_human_fault_can_be_acted_out() -> None:
    from conformance.faults import (
        UnsupportedFault,
        answer_delay,
        apply_card_fault,
        behaviour_kwargs,
    )
    from virtual_devices.emv.card import CardMute, load_card

    cat = load_catalogue()
    for spec in cat.layer("human") + cat.layer("card"):
        ways = 0
        for who in ("customer", "cardholder"):
            try:
                behaviour_kwargs(spec, who)
                ways += 1
            except UnsupportedFault:
                pass
        card = load_card("visa-chip-pin")
        try:
            apply_card_fault(spec, card)
            ways += 1
        except UnsupportedFault:
            pass
        try:
            answer_delay(spec)
            ways += 1
        except UnsupportedFault:
            pass
        assert ways, f"{spec.id} cannot be acted out by anything"
    card = load_card("visa-chip-pin")
    apply_card_fault(cat["card.mute"], card)
    card.power_on("contact")
    for _ in range(int(cat["card.mute"].params["after_apdus"])):
        card.transmit(bytes.fromhex("00A404000E315041592E5359532E444446303100"))
    with pytest.raises(CardMute):
        card.transmit(bytes.fromhex("00A404000E315041592E5359532E444446303100"))
    with pytest.raises(UnsupportedFault):
        apply_card_fault(cat["card.mute"], object())
    with pytest.raises(UnsupportedFault):
        answer_delay(cat["human.cancel"])


def test_every_backend_fault_names_its_outcome_on_every_server_and_each_has_a_case() -> None:
    import pathlib

    from conformance.faults import load_catalogue

    servers = ("p3", "mpos", "connect", "gochip", "valor")
    cases = pathlib.Path(__file__).parents[2] / "conformance" / "cases"
    for spec in load_catalogue().layer("backend"):
        assert set(spec.outcomes) == set(servers), spec.id
    for server in servers:
        text = (cases / server / "test_backend.py").read_text(encoding="utf-8")
        assert 'layer("backend")' in text and "put_backend_fault" in text, server
