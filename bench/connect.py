"""Connect reference server: how fast a virtual sale runs, and what the server costs on
a real WebSocket against a bare echo server.

``sale_sim_to_wall_virtual``: simulated seconds of chip and PIN sales (TRANSACTION_STARTED
to the final answer, each read through the virtual pinpad and authorised by the acquirer)
per wall second, in virtual mode. Goal >= 1000.

``rtt_vs_echo``: ``connectedTerminals`` round trips per second over a real loopback
WebSocket, divided by the round trips per second of a bare ``websockets`` echo server,
same run, same client loop (send one message, wait for its answer), both servers up at
once and measured in alternating rounds (the median of the rounds' ratios). Goal >= 0.5.

Usage: ``python bench/connect.py [--sales N] [--trips N]``; the last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Stopwatch, report  # noqa: E402

REQUEST = '{"jsonrpc":"2.0","id":1,"method":"connectedTerminals"}'
ROUNDS = 7


def sale_ratio(sales: int) -> dict[str, Any]:
    from protocol_servers.connect.client import ConnectClient
    from protocol_servers.connect.server import ConnectServer
    from simulator.world import World

    world = World(seed=1)
    server = ConnectServer(world)
    end, _ = server.connect_local(server.url())
    client = ConnectClient(world, end)

    def one() -> float:
        start = world.now
        proc = world.process(client.transaction("sale", "22162152", 1234))
        world.run(until=proc)
        assert proc.value is not None and proc.value.result["transactionResult"] == "SUCCESSFUL"
        return world.now - start

    one()  # the first sale opens the pinpad's secure session and loads its tables
    simulated = 0.0
    with Stopwatch() as sw:
        for _ in range(sales):
            simulated += one()
    assert server.acquirer.ledger.check(client.pos_view) == []
    return {"sale_sim_to_wall_virtual": round(simulated / sw.seconds, 1),
            "sale_wall_ms": round(sw.seconds / sales * 1000, 2),
            "sale_sim_s": round(simulated / sales, 3)}


async def _trips(url: str, trips: int) -> float:
    from websockets.asyncio.client import connect

    async with connect(url, ping_interval=None) as ws:
        for _ in range(50):  # warm-up
            await ws.send(REQUEST)
            await ws.recv()
        t0 = time.perf_counter()
        for _ in range(trips):
            await ws.send(REQUEST)
            await ws.recv()
        return trips / (time.perf_counter() - t0)


async def rtt(trips: int, rounds: int = ROUNDS) -> dict[str, Any]:
    """Both servers up at once, measured in alternating rounds of ``trips`` round trips;
    the ratio is the median of the rounds' ratios, so a moment when the machine is busy
    weighs on both sides alike."""
    from websockets.asyncio.server import serve

    from protocol_servers.connect import live
    from simulator.world import World

    async def echo(conn: Any) -> None:
        async for message in conn:
            await conn.send(message)

    world = World(seed=1, mode="realtime", factor=1.0)
    ep = await live.start(world, pinpads="memory")
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        async with serve(echo, "127.0.0.1", 0, ping_interval=None) as echo_server:
            port = next(iter(echo_server.sockets)).getsockname()[1]
            echo_rates, server_rates = [], []
            for _ in range(rounds):
                echo_rates.append(await _trips(f"ws://127.0.0.1:{port}/", trips))
                server_rates.append(await _trips(ep.pac_url, trips))
    finally:
        driver.cancel()
        await ep.close()
    ratios = [s / e for s, e in zip(server_rates, echo_rates, strict=True)]
    return {"rtt_vs_echo": round(statistics.median(ratios), 3),
            "connect_trips_per_s": round(statistics.median(server_rates)),
            "echo_trips_per_s": round(statistics.median(echo_rates))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=20)
    parser.add_argument("--trips", type=int, default=1000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    result = sale_ratio(args.sales)
    result.update(asyncio.run(rtt(args.trips)))
    for key, goal in (("sale_sim_to_wall_virtual", 1000), ("rtt_vs_echo", 0.5)):
        met = "met" if result[key] >= goal else "MISSED"
        print(f"goal {key} >= {goal}: {met} ({result[key]})", flush=True)
    report(result)


if __name__ == "__main__":
    main()
