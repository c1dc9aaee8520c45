"""Each fault primitive, composition, and replay from the seed."""

from __future__ import annotations

import pytest

from simulator.faults import Corrupt, Delay, Disconnect, Drop, Duplicate, Split, Stall
from simulator.streams import byte_link, message_link
from simulator.world import World


def _pump(world: World, fault, payloads, *, messages: bool = False, gap: float = 0.0):
    """Send ``payloads`` from a to b through ``fault``; return [(time, item)] received."""
    world.faults.add(fault)
    if messages:
        a, b = message_link(world, "a", "b")
    else:
        a, b = byte_link(world, "a", "b")
    got: list = []

    def receiver():
        while True:
            item = yield (b.recv() if messages else b.read())
            if item is None or item == b"":
                got.append((world.now, "EOF"))
                return
            got.append((world.now, item))

    def sender():
        for p in payloads:
            (a.send if messages else a.write)(p)
            if gap:
                yield world.timeout(gap)
        yield world.timeout(10)
        if not a.is_closed:
            a.close()

    world.process(receiver())
    world.process(sender())
    world.run()
    return got


def _events(world: World) -> list[str]:
    return [e.label for e in world.transcript.entries if e.direction == "event"]


def test_drop_loses_exactly_the_scheduled_crossing():
    w = World(seed=3)
    got = _pump(w, Drop(port="a", direction="tx", on=(1,)), [b"one", b"two", b"three"])
    assert [x for _, x in got] == [b"one", b"three", "EOF"]
    assert "fault: drop 3 byte(s)" in _events(w)


def test_corrupt_flips_the_requested_number_of_bits():
    w = World(seed=3)
    data = bytes(64)
    got = _pump(w, Corrupt(port="b", direction="rx", bits=1), [data])
    received = got[0][1]
    assert len(received) == len(data)
    assert sum(bin(x).count("1") for x in received) == 1
    offset = next(i for i, x in enumerate(received) if x)
    assert f"fault: corrupt 1 bit(s) at offset {offset}" in _events(w)


def test_corrupt_text_stays_valid_text():
    w = World(seed=5)
    got = _pump(w, Corrupt(port="a", bits=3), ['{"amount": 100}'], messages=True)
    text = got[0][1]
    assert isinstance(text, str) and text != '{"amount": 100}' and len(text) == 15
    assert all(ord(c) < 128 for c in text)


def test_duplicate_delivers_twice():
    w = World(seed=1)
    got = _pump(w, Duplicate(port="a", gap=0.5), ["hi"], messages=True)
    assert [(t, x) for t, x in got[:2]] == [(0.0, "hi"), (0.5, "hi")]


def test_delay_postpones_and_keeps_order():
    w = World(seed=1)
    got = _pump(w, Delay(port="a", seconds=0.25, on=(0,)), ["first", "second"], messages=True)
    assert got[:2] == [(0.25, "first"), (0.25, "second")]


def test_split_cuts_into_pieces_that_rejoin():
    w = World(seed=9)
    got = _pump(w, Split(port="a", pieces=4, gap=0.1), ["abcdefghij"], messages=True)
    pieces = [x for _, x in got if x != "EOF"]
    assert len(pieces) == 4 and "".join(pieces) == "abcdefghij"
    assert [round(t, 6) for t, x in got if x != "EOF"] == [0.0, 0.1, 0.2, 0.3]


def test_stall_holds_everything_in_its_window():
    w = World(seed=1)
    got = _pump(w, Stall(port="a", start=0.0, stop=1.5), [b"x", b"y", b"z"], gap=0.5)
    times = [t for t, x in got if x != "EOF"]
    assert times and all(t == pytest.approx(1.5) for t in times)
    assert b"".join(x for _, x in got if x != "EOF") == b"xyz"


def test_disconnect_after_n_bytes_lets_exactly_n_through():
    w = World(seed=1)
    got = _pump(w, Disconnect(port="a", after_bytes=5), [b"abc", b"defg", b"hij"])
    assert b"".join(x for _, x in got if x != "EOF") == b"abcde"
    assert got[-1][1] == "EOF" and got[-1][0] == 0.0


def test_disconnect_after_n_messages():
    w = World(seed=1)
    got = _pump(w, Disconnect(port="a", after_messages=2), ["m1", "m2", "m3"], messages=True)
    assert [x for _, x in got] == ["m1", "m2", "EOF"]


def test_disconnect_at_time_fires_without_traffic():
    w = World(seed=1)
    got = _pump(w, Disconnect(port="a", at=2.5), [b"early"])
    assert got == [(0.0, b"early"), (2.5, "EOF")]
    assert "fault: disconnect at t=2.500000" in _events(w)


def test_probability_draws_come_from_the_seed():
    def run(seed: int) -> list:
        w = World(seed=seed)
        got = _pump(w, Drop(port="a", probability=0.5), [f"m{i}" for i in range(40)],
                    messages=True)
        return [x for _, x in got]

    assert run(7) == run(7)
    assert run(7) != run(8)
    kept = len(run(7)) - 1
    assert 5 < kept < 35


def test_faults_compose_in_order():
    w = World(seed=2)
    w.faults.add(Split(port="a", pieces=2))
    got = _pump(w, Delay(port="a", seconds=1.0, on=(0,)), ["abcd"], messages=True)
    assert "".join(x for _, x in got if x != "EOF") == "abcd"
    assert all(t == 1.0 for t, x in got if x != "EOF")
