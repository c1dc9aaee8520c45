"""The house invariants catch what they promise to catch, and only that."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.invariants import (
    InvariantViolation,
    check_serves_fresh_client,
    fresh_client_within,
    ledger_balanced,
    no_full_pan,
    one_final_answer,
)
from simulator.streams import message_link
from simulator.transcript import Entry
from simulator.world import World

PAN = "4761739001010010"


def test_one_final_answer() -> None:
    one_final_answer(["a", "b"], ["b", "a"])
    with pytest.raises(InvariantViolation, match="no final answer for b"):
        one_final_answer(["a", "b"], ["a"])
    with pytest.raises(InvariantViolation, match="more than one final answer for a"):
        one_final_answer(["a"], ["a", "a"])
    with pytest.raises(InvariantViolation, match="unknown request z"):
        one_final_answer(["a"], ["a", "z"])


def test_ledger_balanced() -> None:
    ledger_balanced([("t1", 1000), ("t2", 500), ("t2", -500)], {"t1": 1000})
    with pytest.raises(InvariantViolation, match="nothing booked"):
        ledger_balanced([], {"t1": 1000})
    with pytest.raises(InvariantViolation, match="never told"):
        ledger_balanced([("t1", 1000)], {})
    with pytest.raises(InvariantViolation, match="ledger holds 2000"):
        ledger_balanced([("t1", 1000), ("t1", 1000)], {"t1": 1000})
    with pytest.raises(InvariantViolation, match="not integer minor units"):
        ledger_balanced([("t1", 10.0)], {"t1": 10})  # type: ignore[list-item]


def _entry(label: str = "", data: bytes = b"", hexed: str | None = None) -> Entry:
    return Entry(0, 0.0, None, "p", "tx", data.hex() if hexed is None else hexed, label)


def test_no_full_pan_scans_labels_bytes_and_known_bcd() -> None:
    no_full_pan([_entry("card 476173******0010"), _entry(data=b"amount=000000001000")])
    with pytest.raises(InvariantViolation, match="label: 476173"):
        no_full_pan([_entry(f"card {PAN}")])
    with pytest.raises(InvariantViolation, match="bytes: 476173"):
        no_full_pan([_entry(data=b"\x02" + PAN.encode() + b"\x03")])
    bcd = bytes.fromhex(PAN)
    no_full_pan([_entry(data=b"\x5a\x08" + bcd)])  # unknown BCD is not guessed at
    with pytest.raises(InvariantViolation, match="known card"):
        no_full_pan([_entry(data=b"\x5a\x08" + bcd)], known_pans=[PAN])
    # the world's transcript really masks it, so a real transcript passes
    w = World(seed=1)
    w.redactor.add_pan(PAN)
    w.transcript.record("p", "tx", b"\x5a\x08" + bcd + PAN.encode(), f"pan {PAN}")
    no_full_pan(w.transcript, known_pans=[PAN])


def _echo_server(world: World, broken_after: int | None) -> list:  # type: ignore[type-arg]
    """A server that answers each client once; with ``broken_after`` it stops accepting."""
    ends = []

    def serve(end):  # type: ignore[no-untyped-def]
        msg = yield end.recv()
        if msg is not None:
            yield world.timeout(0.1)
            end.send("ok:" + msg)

    def accept(end) -> None:  # type: ignore[no-untyped-def]
        ends.append(end)
        if broken_after is None or len(ends) <= broken_after:
            world.process(serve(end))

    return [accept]


@pytest.mark.parametrize("broken", [False, True])
def test_serves_fresh_client(broken: bool) -> None:
    w = World(seed=1)
    (accept,) = _echo_server(w, 0 if broken else None)

    def probe():  # type: ignore[no-untyped-def]
        pos, srv = message_link(w, "fresh-pos", "server")
        accept(srv)
        pos.send("hello")
        answer = yield pos.recv()
        return answer

    if broken:
        with pytest.raises(InvariantViolation, match="within 5.0 s"):
            check_serves_fresh_client(w, probe, within=5.0)
    else:
        assert check_serves_fresh_client(w, probe, within=fresh_client_within()) == "ok:hello"


def test_fresh_client_failure_is_reported() -> None:
    w = World(seed=1)

    def probe():  # type: ignore[no-untyped-def]
        yield w.timeout(0.1)
        raise ConnectionRefusedError("refused")

    with pytest.raises(InvariantViolation, match="fresh client failed: .*refused"):
        check_serves_fresh_client(w, probe, within=5.0)


def _hex_to_text_pairwise(hexed: str) -> str:
    out = []
    for i in range(0, len(hexed) - 1, 2):
        pair = hexed[i : i + 2]
        if "*" in pair:
            out.append("*")
            continue
        b = int(pair, 16)
        out.append(chr(b) if 32 <= b < 127 else " ")
    return "".join(out)


@given(st.text("0123456789abcdefABCDEF* ", max_size=40))
def test_hex_to_text_reads_pair_by_pair(hexed: str) -> None:
    from conformance.invariants import _hex_to_text

    try:
        expected = _hex_to_text_pairwise(hexed)
    except ValueError:
        with pytest.raises(ValueError):
            _hex_to_text(hexed)
        return
    assert _hex_to_text(hexed) == expected


def test_pan_watch_reads_new_entries_and_all_again_for_a_new_pan() -> None:
    from conformance.invariants import PanWatch

    w = World(seed=1)
    watch = PanWatch()
    w.transcript.record("pos", "tx", b"hello")
    watch.check(w.transcript)
    # a full PAN in clear in a new entry (the redactor does not know it; this one is
    # written as BCD, which only a known PAN is looked for in)
    bcd = bytes.fromhex(PAN)
    w.transcript.record("pos", "tx", b"\x01\x02" + bcd)
    watch.check(w.transcript)  # unknown BCD is not guessed at
    with pytest.raises(InvariantViolation):
        watch.check(w.transcript, known_pans=[PAN])  # now known: every entry again
    w2 = World(seed=1)
    watch2 = PanWatch()
    watch2.check(w2.transcript, known_pans=[PAN])
    w2.transcript.record("pos", "tx", b"\x01\x02" + bcd)
    with pytest.raises(InvariantViolation):
        watch2.check(w2.transcript, known_pans=[PAN])  # a new entry is read
