"""PayServer (P3) benchmark.

* ``charge_sim_to_wall_virtual``: simulated seconds per wall second while a virtual world
  runs chip-and-PIN charges end to end (P3 over an in-memory link, ABECS pinpad, the
  customer inserting ``visa-chip-pin`` and typing the PIN, acquirer verifying the ARQC).
  Higher is faster. ``charge_sim_to_wall_virtual_tap``: the same card tapped (under the
  contactless CVM limit: no PIN), to compare the entry modes.
  ``charge_sim_to_cpu_virtual``: the chip-and-PIN figure over the process's CPU seconds
  instead of wall seconds (what a quiet machine would show when others load this one).
* ``tcp_vs_ws_roundtrip_ratio``: LOGIN_MERCHANT round trips per second over framed TCP
  divided by the same over WebSocket, both against one realtime server on loopback in
  the same run.

The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
import warnings
from typing import Any

warnings.filterwarnings("ignore")

from protocol_servers.p3 import live  # noqa: E402
from protocol_servers.p3.client import P3Client, connect_local  # noqa: E402
from protocol_servers.p3.config import DeviceConfig, ServerConfig  # noqa: E402
from protocol_servers.p3.server import PayServer  # noqa: E402
from simulator.world import World  # noqa: E402

CHARGES = 20
LOGINS = 300
ROUNDS = 5


# the headline figure is a chip-and-PIN charge: the card inserted, the PIN typed
CHIP = DeviceConfig("counter", "Counter", "MIURA", "USB", cards=("visa-chip-pin",),
                    customer={"presentation": "insert"})
TAP = DeviceConfig("counter", "Counter", "MIURA", "USB", cards=("visa-chip-pin",),
                   customer={"presentation": "tap"})


def charges_virtual(device: DeviceConfig, n: int) -> dict[str, float]:
    world = World(seed=1)
    server = PayServer(world, ServerConfig(devices=(device,)))
    c = connect_local(server, "tcp")
    resource = device.resource

    def script() -> Any:
        yield from c.login()
        for _ in range(n):
            final = yield from c.final(c.execute(resource, amount="40.00"))
            t = final["executeTransactionResponse"]["transaction"]
            assert t["status"] == "APPROVED", t["statusDetails"]

    start, c0 = time.perf_counter(), time.process_time()
    proc = world.process(script())
    world.run(until=proc)
    wall, cpu = time.perf_counter() - start, time.process_time() - c0
    return {"sim_s": world.now, "wall_s": wall, "charges_per_wall_s": n / wall,
            "ratio": world.now / wall, "cpu_ratio": world.now / cpu}


async def login_rate(world: World, client: P3Client, n: int) -> float:
    def script() -> Any:
        for _ in range(n):
            resp = yield from client.login()
            assert resp is not None and resp["status"] == "OK"

    start = time.perf_counter()
    proc = world.process(script())
    await world.run_realtime(until=proc)
    return n / (time.perf_counter() - start)


async def roundtrips() -> dict[str, float]:
    from protocol_servers.registry import lookup, options_for

    world = World(seed=2, mode="realtime", factor=1.0)
    # the server as every tool starts it: from the one list of servers
    spec = lookup("p3")
    started = await spec.start(world, options_for(spec, ws_port=0, tcp_port=0))
    try:
        ws = await live.connect(world, started.urls["p3"], "bench-ws")
        tcp = await live.connect(world, started.urls["p3-tcp"], "bench-tcp")
        await login_rate(world, ws, 20)  # warm up both paths
        await login_rate(world, tcp, 20)
        # alternate rounds so that load from elsewhere on the machine hits both alike
        ws_rates, tcp_rates = [], []
        for _ in range(ROUNDS):
            ws_rates.append(await login_rate(world, ws, LOGINS))
            tcp_rates.append(await login_rate(world, tcp, LOGINS))
        ws_rate, tcp_rate = statistics.median(ws_rates), statistics.median(tcp_rates)
        ws.end.close()
        tcp.end.close()
    finally:
        await started.close()
    return {"ws_logins_per_s": ws_rate, "tcp_logins_per_s": tcp_rate}


def main() -> None:
    charges_virtual(CHIP, 1)  # warm the process
    # the imports of that first charge grow the heap so much that the collector's first
    # full pass would come during the charges measured (once per process): run it now
    gc.collect()
    chip = charges_virtual(CHIP, CHARGES)
    tap = charges_virtual(TAP, CHARGES)
    mock = charges_virtual(DeviceConfig("mockReader", "Mock reader"), CHARGES * 5)
    rt = asyncio.run(roundtrips())
    print(f"virtual chip+PIN charges (ABECS + EMV + acquirer): {CHARGES} in "
          f"{chip['wall_s']:.2f} s wall for {chip['sim_s']:.1f} s simulated")
    print(f"virtual tapped charges: {CHARGES} in {tap['wall_s']:.2f} s wall for "
          f"{tap['sim_s']:.1f} s simulated")
    print(f"virtual MOCK-reader charges: {CHARGES * 5} in {mock['wall_s']:.2f} s wall "
          f"for {mock['sim_s']:.1f} s simulated")
    print(f"LOGIN round trips on loopback (median of {ROUNDS} alternating rounds): "
          f"WebSocket {rt['ws_logins_per_s']:.0f}/s, "
          f"framed TCP {rt['tcp_logins_per_s']:.0f}/s")
    print(json.dumps({
        "charge_sim_to_wall_virtual": round(chip["ratio"], 2),
        "charge_sim_to_wall_virtual_tap": round(tap["ratio"], 2),
        "charge_sim_to_cpu_virtual": round(chip["cpu_ratio"], 2),
        "charge_sim_to_wall_virtual_mock_reader": round(mock["ratio"], 2),
        "chip_charges_per_wall_s_virtual": round(chip["charges_per_wall_s"], 2),
        "ws_login_roundtrips_per_s": round(rt["ws_logins_per_s"], 1),
        "tcp_login_roundtrips_per_s": round(rt["tcp_logins_per_s"], 1),
        "tcp_vs_ws_roundtrip_ratio": round(rt["tcp_logins_per_s"] / rt["ws_logins_per_s"], 3),
    }))


if __name__ == "__main__":
    main()
