"""Scale benchmark: many concurrent virtual terminals in one process, virtual mode.

A terminal is what a merchant's counter holds: a virtual ABECS pinpad with its card
and customer, the terminal application that drives it (the mpos server runs one per
reader), and a POS session on the mpos server (its own connection and context). For
10, 100 and 1000 terminals, one world builds them all, then every POS runs one chip
sale (initialize, process, merchant authorisation, finish, close) at the same time.

For each size it prints one line; the last line is one JSON object with, per size:

``terminals``             how many ran
``rss_mb_per_terminal``   resident memory the world grew by, built and after the
                          sales (the transcript kept in memory included), per terminal
``sales_per_s``           sales completed per wall second, all running together
``sim_s``                 simulated seconds the concurrent sales took
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

CARD = "visa-chip-pin"
AMOUNT = 4200
SIZES = (10, 100, 1000)


def rss_mb() -> float:
    """Resident set size now (Linux ``/proc/self/statm``), in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(terminals: int, seed: int = 1) -> dict[str, Any]:
    from protocol_servers.mpos.cards import card_from_name
    from protocol_servers.mpos.client import MposClient
    from protocol_servers.mpos.lab import build_lab
    from simulator.world import World

    gc.collect()
    before = rss_mb()
    world = World(seed=seed)
    cards = [card_from_name(world, CARD) for _ in range(terminals)]
    lab = build_lab(world, readers=terminals, cards=lambda i: [cards[i]])
    poses = [MposClient(world, lab.connect(f"pos{i}")) for i in range(terminals)]
    built = rss_mb()

    def sale(i: int, pos: MposClient) -> Any:
        ctx = f"counter{i}"
        yield from pos.initialize(ctx, lab.readers[i].device.id)
        p = yield from pos.process(ctx, AMOUNT)
        txn = lab.backend.create_transaction(p["process"]["card_hash"], AMOUNT)
        yield from pos.finish(ctx, success=True, response_code=int(txn.acquirer_response_code),
                              emv_data=txn.card_emv_response)
        yield from pos.close(ctx)
        return txn.status

    sales = [world.process(sale(i, pos)) for i, pos in enumerate(poses)]
    t0 = time.perf_counter()
    world.run(until=world.env.all_of(sales))
    wall = time.perf_counter() - t0
    after = rss_mb()
    statuses = [str(s.value) for s in sales]
    if statuses.count("authorized") != terminals:
        raise SystemExit(f"not every sale was authorised: {sorted(set(statuses))}")
    grown = max(built, after) - before
    result = {
        "terminals": terminals,
        "rss_mb_per_terminal": round(grown / terminals, 3),
        "sales_per_s": round(terminals / wall, 1),
        "sim_s": round(world.now, 3),
        "wall_s": round(wall, 3),
        "transcript_entries": len(world.transcript),
    }
    return result  # the world goes with this frame; the next run collects it first


def main() -> None:
    run(2)  # warm the process's caches (keys, catalogue, tables) before measuring
    results = []
    for n in SIZES:
        r = run(n)
        results.append(r)
        print(f"{r['terminals']:>5} terminals: {r['rss_mb_per_terminal']:.3f} MiB each, "
              f"{r['sales_per_s']:.1f} sales/s ({r['wall_s']:.2f} s wall, {r['sim_s']:.1f} s "
              f"simulated, {r['transcript_entries']} transcript entries)", flush=True)
    print(json.dumps({"scale": results, "terminals_max": results[-1]["terminals"], **{
        f"{key}_{r['terminals']}": r[key]
        for r in results for key in ("rss_mb_per_terminal", "sales_per_s")
    }}))


if __name__ == "__main__":
    main()
