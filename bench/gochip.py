"""GoChip Websockets agent benchmark.

* ``sale_sim_to_wall_virtual``: simulated seconds per wall second while a virtual world
  runs chip-and-PIN contact sales end to end, as the other servers' benches define the
  sale (the customer inserts a Visa chip card and types the PIN; GoChip frames over an
  in-memory link, ABECS pinpad, EMV card, the acquirer verifying the ARQC). Higher is
  faster; goal >= 1000.
* ``tap_sim_to_wall_virtual`` (extra): the same with the card tapped (contactless EMV,
  no PIN under the CVM limit): a shorter sale in simulated time, so a lower ratio.
* ``sale_sim_to_cpu_virtual`` (extra): the chip-and-PIN figure per CPU second of the
  process instead of per wall second (the machine's other load does not count).
* ``rtt_vs_echo``: request/answer round trips per second against the agent on a real
  loopback WebSocket (``REQ_CANCEL_TRANSACTION`` -> ``RES_ON_CANCEL_TRANSACTION_ATTEMPT``),
  divided by round trips per second of the same client loop against a bare
  ``websockets`` echo server, both in the same run, rounds interleaved. Goal >= 0.5.

The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._util import report  # noqa: E402
from protocol_servers.gochip import live  # noqa: E402
from protocol_servers.gochip.agent import Agent, AgentConfig  # noqa: E402
from protocol_servers.gochip.client import connect_local  # noqa: E402
from simulator.world import World  # noqa: E402

SALES = 30
TRIPS = 400
ROUNDS = 5
CANCEL = json.dumps({"type": "REQ_CANCEL_TRANSACTION", "data": {}})


def sales_virtual(n: int, presentation: str = "insert") -> dict[str, float]:
    world = World(seed=1)
    agent = Agent(world, AgentConfig(customer={"presentation": presentation}))
    c = connect_local(agent)
    marks: dict[str, float] = {}

    def script() -> Any:
        yield from c.setup()
        marks["sim0"] = world.now
        marks["wall0"] = time.perf_counter()
        marks["cpu0"] = time.process_time()
        for _ in range(n):
            final = yield from c.sale("12.50")
            assert final is not None and final["type"] == "RES_ON_SALE_RESPONSE", final
            assert final["data"]["saleResponse"]["code"] == "A", final
        yield from c.wait_for("RES_ON_MESSAGE", 60.0)

    proc = world.process(script())
    world.run(until=proc)
    wall = time.perf_counter() - marks["wall0"]
    cpu = time.process_time() - marks["cpu0"]
    sim = world.now - marks["sim0"]
    return {"sim_s": sim, "wall_s": wall, "ratio": sim / wall, "cpu_ratio": sim / cpu}


async def _trips(url: str, text: str, n: int, setup: bool) -> float:
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        if setup:
            await ws.recv()  # RES_ON_WS_INIT_REQUIRED
            await ws.send(json.dumps({"type": "REQ_WS_INIT", "data": {"mode": "TEST"}}))
            await ws.recv()
            await ws.send(json.dumps({"type": "REQ_INIT_WITH_CONFIGURATION",
                                      "data": {"terminalId": "1", "secret": "s"}}))
            await ws.recv()
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(text)
            await ws.recv()
        return n / (time.perf_counter() - t0)


async def rtt_ratio() -> dict[str, float]:
    from websockets.asyncio.server import serve

    async def echo(conn: Any) -> None:
        async for message in conn:
            await conn.send(message)

    world = World(seed=1, mode="realtime", factor=0.01)
    agent = Agent(world, AgentConfig())
    ws = await live.start(agent, "127.0.0.1", 0)
    driver = asyncio.ensure_future(world.run_realtime())
    echo_server = await serve(echo, "127.0.0.1", 0)
    echo_url = f"ws://127.0.0.1:{next(iter(echo_server.sockets)).getsockname()[1]}/"
    agent_rates, echo_rates = [], []
    try:
        await _trips(ws.url, CANCEL, 50, True)  # warm both paths
        await _trips(echo_url, CANCEL, 50, False)
        for _ in range(ROUNDS):
            echo_rates.append(await _trips(echo_url, CANCEL, TRIPS, False))
            agent_rates.append(await _trips(ws.url, CANCEL, TRIPS, True))
    finally:
        echo_server.close()
        await echo_server.wait_closed()
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await ws.close()
    a, e = statistics.median(agent_rates), statistics.median(echo_rates)
    return {"agent_rps": a, "echo_rps": e, "ratio": a / e}


def main() -> None:
    sales = sales_virtual(SALES)
    print(f"{SALES} chip+PIN sales: {sales['sim_s']:.1f} simulated s in {sales['wall_s']:.3f} "
          f"wall s", flush=True)
    taps = sales_virtual(SALES, "tap")
    print(f"{SALES} tapped sales: {taps['sim_s']:.1f} simulated s in {taps['wall_s']:.3f} "
          f"wall s", flush=True)
    rtt = asyncio.run(rtt_ratio())
    print(f"round trips/s: agent {rtt['agent_rps']:.0f}, echo {rtt['echo_rps']:.0f}",
          flush=True)
    report({"sale_sim_to_wall_virtual": round(sales["ratio"], 1),
            "rtt_vs_echo": round(rtt["ratio"], 3),
            "tap_sim_to_wall_virtual": round(taps["ratio"], 1),
            # per CPU second of this process: steadier than wall time on a shared machine
            "sale_sim_to_cpu_virtual": round(sales["cpu_ratio"], 1),
            "agent_round_trips_per_s": round(rtt["agent_rps"]),
            "echo_round_trips_per_s": round(rtt["echo_rps"]), "sales": SALES})


if __name__ == "__main__":
    main()
