"""The world keeps its promises: determinism, masking, faults in the history."""

from __future__ import annotations

import pytest

from conformance import case
from conformance.faults import load_catalogue
from conformance.invariants import no_full_pan
from simulator.streams import byte_link
from simulator.world import World

PAN = "4761739001010010"


def _exchange(world: World) -> bytes:
    host, pinpad = byte_link(world, "host", "pinpad")
    got = bytearray()

    def device():  # type: ignore[no-untyped-def]
        while True:
            chunk = yield pinpad.read()
            if not chunk:
                return
            got.extend(chunk)
            pinpad.write(b"\x06")

    def hostside():  # type: ignore[no-untyped-def]
        for i in range(5):
            host.write(f"CMD{i:03d}{PAN}".encode())
            yield world.timeout(0.5 + world.rng("host").random())
        host.close()

    world.process(device())
    world.run(until=world.process(hostside()))
    world.run(until=world.now + 5)
    return bytes(got)


@case("world/2/1", title="same seed, byte-identical transcript",
      failure="runs cannot be replayed from their seed")
def test_same_seed_same_transcript(world: World) -> None:
    if world.mode != "virtual":
        pytest.skip("determinism is a virtual-mode promise")
    world.redactor.add_pan(PAN)
    _exchange(world)
    twin = World(seed=world.seed)
    twin.redactor.add_pan(PAN)
    _exchange(twin)
    assert world.transcript.jsonl() == twin.transcript.jsonl()
    other = World(seed=world.seed + 1)
    other.redactor.add_pan(PAN)
    _exchange(other)
    assert other.transcript.jsonl() != world.transcript.jsonl()


@case("world/3/1", title="card numbers are masked in every transcript entry",
      failure="a full PAN reaches a transcript")
def test_no_pan_in_transcript(world: World) -> None:
    world.redactor.add_pan(PAN)
    got = _exchange(world)
    assert PAN.encode() in got  # the device did receive the real number
    no_full_pan(world.transcript, known_pans=[PAN])
    sent = world.transcript.select("host", "tx")
    assert sent and all(PAN.encode().hex() not in e.hex for e in sent)
    # masked in place, not dropped: every payload keeps its length
    assert all(len(e.hex) == 2 * len(f"CMD000{PAN}") for e in sent)


@case("world/4/1", title="serial faults are part of the history",
      failure="a transcript hides the faults a run was put through")
def test_faults_in_history(world: World) -> None:
    cat = load_catalogue()
    world.faults.add(cat["serial.overrun"].to_fault("pinpad", "rx"))
    world.faults.add(cat["serial.duplicated_bytes"].to_fault("pinpad", "rx"))
    world.redactor.add_pan(PAN)
    got = _exchange(world)
    labels = [e.label for e in world.transcript if e.direction == "event"]
    assert any(lbl.startswith("fault: split") for lbl in labels)
    assert any(lbl.startswith("fault: duplicate") for lbl in labels)
    assert len(got) > 5 * len(f"CMD000{PAN}")  # the duplicate really arrived
