"""mpos-bridge benchmarks; the last line printed is one JSON object.

``sale_sim_to_wall_virtual``  simulated seconds per wall second for a full chip-and-PIN
                              sale (list, initialize, process, merchant step, finish,
                              close) in virtual mode, the customer inserting
                              ``visa-chip-pin``, after the process's first sale;
``sale_sim_to_wall_virtual_tap`` / ``..._swipe``  the same with the card tapped (under
                              the contactless CVM limit: no PIN), and with a stripe-only
                              card swiped, to compare the entry modes;
``sale_sim_to_cpu_virtual``   the chip-and-PIN figure over the process's CPU seconds
                              instead of wall seconds: what a quiet machine would show
                              when others load this one;
``first_sale_wall_s_virtual`` wall seconds of that first sale (keys parsed, catalogue
                              built: what every new process pays once);
``sale_wall_s_realtime_f005`` wall seconds for the same sale over a real WebSocket and a
                              real pty at realtime factor 0.05;
``status_rtt_vs_echo``        status requests per second through the bridge divided by
                              the rate of a bare ``websockets`` echo server, same run,
                              same client loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import warnings
from typing import Any

warnings.simplefilter("ignore")

CARD = "visa-chip-pin"
# the headline figure is a chip-and-PIN sale: the card inserted, the PIN typed; the other
# entry modes are measured beside it (a tap under the CVM limit is a quarter of the
# simulated time of a chip sale for about the same work, so it reads much slower)
ENTRIES = {"insert": CARD, "tap": CARD, "swipe": "magstripe-credit"}
AMOUNT = 4200
SALES_VIRTUAL = 20  # enough simulated time that one scheduler hiccup does not decide the figure
STATUS_N = 400


def virtual_sale(seed: int, entry: str = "insert") -> tuple[float, float, float]:
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.client import MposClient
    from protocol_servers.mpos.lab import build_lab
    from simulator.world import World
    from virtual_devices.cardholder import Behaviour

    w = World(seed=seed)
    lab = build_lab(w, readers=1, cards=[card_from_name(w, ENTRIES[entry])],
                    behaviour=Behaviour(presentation=entry))  # type: ignore[arg-type]
    c = MposClient(w, lab.connect())

    def flow():  # type: ignore[no-untyped-def]
        r = yield from c.list_devices("b")
        yield from c.initialize("b", r["device_list"][0]["id"])
        p = yield from c.process("b", AMOUNT)
        txn = lab.backend.create_transaction(p["process"]["card_hash"], AMOUNT)
        yield from c.finish("b", success=True, response_code=int(txn.acquirer_response_code),
                            emv_data=txn.card_emv_response)
        yield from c.close("b")
        return txn.status

    t0, c0 = time.perf_counter(), time.process_time()
    status = w.run(until=w.process(flow()))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert status == "authorized", status
    return w.now, wall, cpu


async def start_mpos(world: Any, **options: Any) -> Any:
    """The mpos server as every tool starts it: from the one list of servers."""
    from protocol_servers.registry import lookup, options_for

    spec = lookup("mpos")
    return await spec.start(world, options_for(spec, port=0, **options))


async def realtime_sale(factor: float) -> dict[str, Any]:
    from protocol_servers.mpos.pos import run_sale
    from simulator.driver import realtime_driver
    from simulator.world import World

    w = World(seed=1, mode="realtime", factor=factor)
    running = await start_mpos(w, readers=1, card=[CARD])
    try:
        async with realtime_driver(w):
            t0 = time.perf_counter()
            result = await run_sale(running.urls["mpos"], running.urls["merchant"], AMOUNT,
                                    timeout=60)
            wall = time.perf_counter() - t0
    finally:
        await running.close()
    return {"ok": result.ok, "wall_s": wall, "sim_s": w.now, "error": result.error,
            "lateness": w.lateness.summary()}


async def _rate(url: str, message: str, n: int) -> float:
    import websockets

    async with websockets.connect(url) as ws:
        for _ in range(20):  # warm up
            await ws.send(message)
            await ws.recv()
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send(message)
            await ws.recv()
        return n / (time.perf_counter() - t0)


async def status_vs_echo() -> dict[str, float]:
    import websockets

    from simulator.driver import realtime_driver
    from simulator.world import World

    async def echo(ws: Any) -> None:
        async for msg in ws:
            await ws.send(msg)

    status = json.dumps({"request_type": 7, "context_id": "bench"})
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        echo_rps = await _rate(f"ws://127.0.0.1:{port}/", status, STATUS_N)
    w = World(seed=1, mode="realtime", factor=1.0)
    running = await start_mpos(w, readers=1)
    try:
        async with realtime_driver(w):
            bridge_rps = await _rate(running.urls["mpos"], status, STATUS_N)
    finally:
        await running.close()
    return {"echo_rps": echo_rps, "bridge_rps": bridge_rps}


def sales(entry: str) -> tuple[float, float, float]:
    """Simulated, wall and CPU seconds of ``SALES_VIRTUAL`` sales with that entry mode."""
    sims, walls, cpus = [], [], []
    for seed in range(1, SALES_VIRTUAL + 1):
        sim, wall, cpu = virtual_sale(seed, entry)
        sims.append(sim)
        walls.append(wall)
        cpus.append(cpu)
    return sum(sims), sum(walls), sum(cpus)


def main() -> int:
    # the first sale of a process also parses keys and builds the card catalogue: it is
    # reported on its own, and the sales measured are the ones a long run repeats
    first_sim, first_wall, _ = virtual_sale(SALES_VIRTUAL + 1)
    # the imports of that first sale grow the heap so much that the collector's first
    # full pass comes during the next sale (tens of ms, once per process): run it now
    gc.collect()
    ratios, cpu_ratios = {}, {}
    for entry in ENTRIES:
        sim, wall, cpu = sales(entry)
        ratios[entry] = sim / wall
        cpu_ratios[entry] = sim / cpu
        print(f"virtual {entry} ({ENTRIES[entry]}): {SALES_VIRTUAL} sales, {sim:.1f} s "
              f"simulated in {wall:.3f} s wall -> {ratios[entry]:.1f} sim s per wall s")
    ratio_virtual = ratios["insert"]
    print(f"virtual: first sale of the process {first_wall:.3f} s wall for {first_sim:.1f} s "
          f"simulated")
    rt = asyncio.run(realtime_sale(0.05))
    print(f"realtime f=0.05 over pty + WebSocket: ok={rt['ok']} {rt['wall_s']:.2f} s wall, "
          f"{rt['sim_s']:.1f} s simulated, lateness {rt['lateness']}"
          + (f", error: {rt['error']}" if rt["error"] else ""))
    rates = asyncio.run(status_vs_echo())
    print(f"status: bridge {rates['bridge_rps']:.0f}/s vs echo {rates['echo_rps']:.0f}/s")
    out = {
        "sale_sim_to_wall_virtual": round(ratio_virtual, 2),
        "sale_sim_to_wall_virtual_tap": round(ratios["tap"], 2),
        "sale_sim_to_wall_virtual_swipe": round(ratios["swipe"], 2),
        "sale_sim_to_cpu_virtual": round(cpu_ratios["insert"], 2),
        "first_sale_wall_s_virtual": round(first_wall, 3),
        "sale_wall_s_realtime_f005": round(rt["wall_s"], 3) if rt["ok"] else None,
        "status_rtt_vs_echo": round(rates["bridge_rps"] / rates["echo_rps"], 3),
        "sale_realtime_f005_ok": rt["ok"],
        "status_rps": round(rates["bridge_rps"], 1),
        "echo_rps": round(rates["echo_rps"], 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
