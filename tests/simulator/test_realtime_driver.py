"""The realtime driver under load: busy worlds, bytes arriving while it waits."""

from __future__ import annotations

import asyncio

import pytest

from simulator.ports.tcp import connect_tcp, serve_tcp
from simulator.world import World

pytestmark = pytest.mark.realtime


async def _echo_pair(w: World):
    def on_connect(end, info):
        def echo():
            while True:
                data = yield end.read()
                if not data:
                    return
                end.write(data)

        w.process(echo())

    server = await serve_tcp(w, "127.0.0.1", 0, on_connect=on_connect)
    client = await connect_tcp(w, "127.0.0.1", server.port)
    return server, client


def test_bytes_arriving_while_waiting_wake_the_world_at_their_time():
    w = World(seed=1, mode="realtime", factor=1.0)

    async def main():
        server, client = await _echo_pair(w)
        answered = []

        def pos():
            yield w.timeout(0.05)
            client.write(b"ping")
            data = yield client.read()
            answered.append((data, w.now))

        def sleeper():  # keeps a far-away event queued: the driver is waiting on it
            yield w.timeout(30)

        w.process(sleeper())
        done = w.process(pos())
        await asyncio.wait_for(w.run_realtime(until=done), 10)
        client.close()
        await server.close()
        return answered

    [(data, t)] = asyncio.run(main())
    assert data == b"ping"
    assert 0.05 <= t < 5  # delivered when it arrived, not when the next timer was due


def test_a_busy_world_does_not_starve_the_ports():
    w = World(seed=1, mode="realtime", factor=1.0)
    steps = 40_000

    async def main():
        server, client = await _echo_pair(w)
        progress = {"busy": 0, "reply_at_step": None}

        def busy():  # a burst of due events with no wall time between them
            for _ in range(steps):
                progress["busy"] += 1
                yield w.timeout(0)

        def pos():
            client.write(b"x")
            yield client.read()
            progress["reply_at_step"] = progress["busy"]

        w.process(pos())
        done = w.process(busy())
        await asyncio.wait_for(w.run_realtime(until=done), 30)
        client.close()
        await server.close()
        return progress

    progress = asyncio.run(main())
    assert progress["reply_at_step"] is not None
    assert progress["reply_at_step"] < steps  # the reply got in during the burst


def test_many_chunks_arrive_in_order_with_monotonic_times():
    w = World(seed=1, mode="realtime", factor=0.1)

    async def main():
        server, client = await _echo_pair(w)
        n = 2000
        stamps: list[float] = []

        def pos():
            got = b""
            for i in range(n):
                client.write(i.to_bytes(2, "big"))
                if i % 50 == 0:
                    yield w.timeout(0.001)
            while len(got) < 2 * n:
                got += yield client.read()
                stamps.append(w.now)
            return got

        got = await asyncio.wait_for(w.run_realtime(until=w.process(pos())), 30)
        client.close()
        await server.close()
        return got, stamps, n

    got, stamps, n = asyncio.run(main())
    assert got == b"".join(i.to_bytes(2, "big") for i in range(n))
    assert stamps == sorted(stamps)
    sims = [e.sim for e in w.transcript.entries]
    assert sims == sorted(sims)
