"""A card placed in a world: seeded randomness and nothing secret in the transcript."""

from __future__ import annotations

from test_card_support import TERMINAL

from simulator.world import World
from virtual_devices.emv import tlv
from virtual_devices.emv.apdu import Command, describe_command, describe_response
from virtual_devices.emv.card import VirtualCard, load_card, pin_block


def _run(world: World, card: VirtualCard) -> None:
    app = card.profile.applications[0]
    card.power_on("contact")
    cmds = [Command.select(app.aid), Command.gpo(b""), Command.read_record(1, 1),
            Command.read_record(2, 1), Command.get_challenge(),
            Command.verify(0x80, pin_block("1234")),
            Command.internal_authenticate(tlv.build_dol(app.ddol, TERMINAL)),
            Command.generate_ac(0x80, tlv.build_dol(app.cdol1, TERMINAL))]
    for c in cmds:
        raw = c.to_bytes()
        world.transcript.record("icc", "tx", raw, describe_command(raw))
        out = card.transmit(raw)
        world.transcript.record("icc", "rx", out, describe_response(out))


def test_transcript_has_no_card_secrets() -> None:
    w = World(seed=5, mode="virtual")
    card = load_card("visa-chip-pin").place_in(w)
    _run(w, card)
    text = w.transcript.jsonl()
    tracks = card.tracks()
    assert tracks is not None
    assert card.pan not in text
    assert card.pan.lower() not in text.lower()  # not even as BCD hex
    assert pin_block("1234").hex() not in text.lower()
    assert tracks.track2.split("=")[1] not in text
    t57 = tlv.find(card.transmit(Command.read_record(1, 1).to_bytes())[:-2], 0x57)
    assert t57 is not None and t57.hex() not in text.lower()
    assert "VERIFY plaintext PIN" in text and "GENERATE AC ARQC" in text


def test_same_seed_same_transcript_other_seed_differs() -> None:
    def transcript(seed: int) -> str:
        w = World(seed=seed, mode="virtual")
        _run(w, load_card("visa-chip-pin").place_in(w))
        return w.transcript.jsonl()

    assert transcript(11) == transcript(11)
    assert transcript(11) != transcript(12)  # GET CHALLENGE and DDA numbers follow the seed
