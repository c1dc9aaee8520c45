"""An in-memory transcript masks an entry when it is read, exactly as it would have
when the entry was recorded; a file-backed one masks at once. Both must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.transcript import Transcript
from simulator.world import World

SECRET = bytes.fromhex("0123456789abcdef")


def _traffic(world: World) -> None:
    t = world.transcript
    t.record("p", "tx", b"before " + SECRET, "holds " + SECRET.hex())
    world.redactor.add_secret(SECRET)  # learnt only now, as a session key is
    t.record("p", "rx", b"after " + SECRET, lambda: "holds " + SECRET.hex())
    world.redactor.add_pan("4761739001010010")
    t.record("p", "tx", b"4761739001010010", "pan 4761739001010010")
    world.redactor.add_secret(b"ABCDEFGH")
    t.event("p", "last")


def test_deferred_entries_mask_as_of_their_recording(tmp_path: Path) -> None:
    eager = World(seed=1, transcript=Transcript(tmp_path / "eager.jsonl"))
    lazy = World(seed=1)
    _traffic(eager)
    _traffic(lazy)
    # read out of order: the last entry first, then all
    assert lazy.transcript.entries[-1].label == "last"
    assert lazy.transcript.jsonl() == eager.transcript.jsonl()
    first, second, third, _ = lazy.transcript.entries
    # recorded before the secret was registered: as the file holds it, in clear
    assert SECRET.hex() in first.hex and SECRET.hex() in first.label
    assert SECRET.hex() not in second.hex.replace(" ", "") and "[redacted]" in second.label
    assert "4761739001010010" not in third.label and "476173******0010" in third.label


def test_a_sale_reads_the_same_deferred_or_streamed(tmp_path: Path) -> None:
    """A chip-and-PIN mpos sale (session key, PIN block and card secrets registered as
    it runs): the in-memory transcript equals the file the eager one streamed."""
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.client import MposClient
    from protocol_servers.mpos.lab import build_lab
    from virtual_devices.cardholder import Behaviour

    def sale(world: World) -> str:
        lab = build_lab(world, readers=1, cards=[card_from_name(world, "visa-chip-pin")],
                        behaviour=Behaviour(presentation="insert"))
        c = MposClient(world, lab.connect())

        def flow() -> Any:
            r = yield from c.list_devices("b")
            yield from c.initialize("b", r["device_list"][0]["id"])
            p = yield from c.process("b", 4200)
            txn = lab.backend.create_transaction(p["process"]["card_hash"], 4200)
            yield from c.finish("b", success=True, response_code=int(txn.acquirer_response_code),
                                emv_data=txn.card_emv_response)
            return txn.status

        assert world.run(until=world.process(flow())) == "authorized"
        return world.transcript.jsonl()

    path = tmp_path / "sale.jsonl"
    eager = World(seed=7, transcript=Transcript(path))
    streamed = sale(eager)
    eager.transcript.close()
    deferred = sale(World(seed=7))
    assert deferred == streamed == path.read_text("utf-8")
    assert "[sec] " in deferred  # encrypted frames were decoded under their session
