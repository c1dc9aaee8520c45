"""A seed reproduces a virtual run byte for byte, faults included."""

from __future__ import annotations

from simulator.faults import Corrupt, Delay, Disconnect, Drop, Duplicate, Split, Stall
from simulator.pacing import Pacing
from simulator.streams import byte_link, message_link
from simulator.world import World


def _run(seed: int) -> str:
    w = World(seed=seed)
    w.faults.add(Corrupt(port="pinpad", direction="rx", probability=0.3))
    w.faults.add(Split(port="host", direction="tx", probability=0.5, pieces=3, gap=0.001))
    w.faults.add(Drop(port="server", probability=0.1))
    w.faults.add(Duplicate(port="pos", probability=0.2))
    w.faults.add(Delay(port="pos", seconds=0.01, jitter=0.05, probability=0.3))
    w.faults.add(Stall(port="pinpad", direction="tx", probability=0.05, seconds=0.2))
    w.faults.add(Disconnect(port="pos", at=30.0))
    host, pinpad = byte_link(w, "host", "pinpad", pacing=Pacing(19200))
    pos, server = message_link(w, "pos", "server")
    rng = w.rng("traffic")

    def device():
        while True:
            data = yield pinpad.read()
            if not data:
                return
            yield w.timeout(rng.uniform(0.001, 0.01))
            pinpad.write(data[::-1])

    def bridge():
        while True:
            msg = yield server.recv()
            if msg is None:
                host.close()
                return
            host.write(msg.encode())
            reply = yield host.read()
            server.send(reply.hex())

    def client():
        for i in range(200):
            pos.send(f"request {i} amount {rng.randrange(1, 10**6)}")
            yield w.any_of([pos.recv(), w.timeout(0.5)])

    w.process(device())
    w.process(bridge())
    w.process(client())
    w.run(until=60)
    return w.transcript.jsonl()


def test_same_seed_same_transcript_with_faults():
    first, second = _run(11), _run(11)
    assert first == second
    assert '"fault: ' in first  # the faults really fired
    assert "disconnect at t=30" in first


def test_other_seed_other_transcript():
    assert _run(11) != _run(12)
