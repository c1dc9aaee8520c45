"""ABECS benchmark: command rate over a real pty, a bare pty baseline, sale speed.

Prints a few lines of context and, as its last line, one JSON object:

``commands_per_s_pty``        DSP round trips per wall second between AbecsHost and the
                              virtual pinpad over a socat pty, secure session, with the
                              pinpad's processing delay set to zero (unpaced)
``raw_pty_roundtrips_per_s``  the same sizes echoed over a bare socat pty by a plain
                              select loop: what the pty itself allows
``sale_sim_to_wall``          simulated seconds per wall second of chip-and-PIN sales
                              (GCR, GOC, host, FNC, RMC) in virtual mode, the customer
                              inserting ``visa-chip-pin`` and typing the PIN, after a
                              first sale that warms the process
``sale_sim_to_wall_tap``      the same card tapped (under the contactless CVM limit: no
                              PIN), to compare the entry modes
``sale_sim_to_cpu``           the chip-and-PIN figure over the process's CPU seconds
                              instead of wall seconds (what a quiet machine would show
                              when others load this one)
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore")

from simulator.ports.pty import PtyPair, open_serial_end  # noqa: E402
from simulator.timings import load_timings  # noqa: E402
from simulator.world import World  # noqa: E402
from virtual_devices.abecs.host import AbecsHost  # noqa: E402
from virtual_devices.abecs.link import ACK, frame  # noqa: E402
from virtual_devices.abecs.pinpad import Pinpad  # noqa: E402

DSP_ROUND_TRIPS = 400
RAW_ROUND_TRIPS = 2000


def commands_over_pty(n: int) -> tuple[float, int, int]:
    """DSP round trips per second; also the wire sizes of one command and its answer."""
    sizes: dict[str, int] = {}

    async def main() -> float:
        world = World(seed=1, mode="realtime", factor=1.0)
        unpaced = load_timings("virtual_devices.abecs").override(command_processing=0.0)
        with PtyPair(names=("host", "pinpad")) as pair:
            host_end = open_serial_end(world, pair.host_path, name="host")
            dev_end = open_serial_end(world, pair.device_path, name="pinpad")
            Pinpad(world, dev_end, timings=unpaced).start()
            host = AbecsHost(world, host_end)
            box: dict[str, float] = {}

            def flow() -> Any:
                yield from host.opn()
                mark = len(host.received)
                yield from host.dsp("BENCH")
                sizes["answer"] = len(host.received) - mark
                t0 = time.perf_counter()
                for i in range(n):
                    yield from host.dsp(f"MENSAGEM {i:05d}")
                box["wall"] = time.perf_counter() - t0

            proc = world.process(flow())
            try:
                await world.run_realtime(until=proc)
            finally:
                host_end.close()
                dev_end.close()
            assert host.session is not None
            sizes["command"] = len(frame(host.session.seal(b"DSP032" + b" " * 32)))
            return n / box["wall"]

    rate = asyncio.run(main())
    return rate, sizes["command"], sizes["answer"]


def raw_pty(n: int, out_size: int, back_size: int) -> float:
    """Echo ``out_size`` bytes one way and ``back_size`` back over a bare socat pty."""
    import termios
    import tty

    with PtyPair(names=("a", "b")) as pair:
        fa = os.open(pair.host_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        fb = os.open(pair.device_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        for fd in (fa, fb):
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        out = b"\x16" + b"x" * (out_size - 1)
        back = bytes((ACK,)) + b"y" * (back_size - 1)

        def read_exact(fd: int, count: int) -> None:
            got = 0
            while got < count:
                select.select([fd], [], [], 5.0)
                try:
                    got += len(os.read(fd, 65536))
                except BlockingIOError:
                    continue

        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fa, out)
            read_exact(fb, len(out))
            os.write(fb, back)
            read_exact(fa, len(back))
        wall = time.perf_counter() - t0
        os.close(fa)
        os.close(fb)
    return n / wall


SALES = 20  # enough simulated time that one scheduler hiccup does not decide the figure


CARD = "visa-chip-pin"


def sale_speed(entry: str = "insert") -> tuple[float, float, float]:
    """Simulated s per wall s over several sales, each in a fresh rig, after a first
    one that warms the process (keys, catalogue); the simulated s of one sale; and
    simulated s per CPU s."""
    one_sale(entry=entry)
    # the imports of that first sale grow the heap so much that the collector's first
    # full pass would come during the sales measured (once per process): run it now
    gc.collect()
    sims, walls, cpus = zip(*(one_sale(seed, entry) for seed in range(3, 3 + SALES)),
                            strict=True)
    return sum(sims) / sum(walls), sims[0], sum(sims) / sum(cpus)


def one_sale(seed: int = 2, entry: str = "insert") -> tuple[float, float, float]:
    from virtual_devices.abecs.customer import Customer
    from virtual_devices.abecs.flows import sale
    from virtual_devices.abecs.rig import make_rig
    from virtual_devices.abecs.tables import records_from_config
    from virtual_devices.acquirer.host import make_acquirer
    from virtual_devices.emv.card import VirtualCard
    from virtual_devices.emv.catalogue import catalogue

    profile = catalogue()[CARD]
    rig = make_rig(seed=seed)
    # the headline figure is a chip-and-PIN sale: the card inserted, the PIN typed
    rig.pinpad.customer = Customer.for_profile(rig.world, profile, presentation=entry)
    rig.pinpad.queue_card(VirtualCard(profile).place_in(rig.world))
    acquirer = make_acquirer(rig.world)
    cfg = acquirer.terminal_config()
    version = cfg.table_version[:10].ljust(10, "0")
    records = records_from_config(cfg)

    def flow() -> Any:
        yield from rig.host.opn()
        yield from rig.host.load_tables(0, version, records)
        start, t0, c0 = rig.world.now, time.perf_counter(), time.process_time()
        res = yield from sale(rig.host, acquirer, 1000, version, records)
        return (res, rig.world.now - start, time.perf_counter() - t0,
                time.process_time() - c0)

    res, sim, wall, cpu = rig.run(flow)
    if not res.approved:
        raise SystemExit(f"the benchmark sale was not approved: {res.steps}")
    return sim, wall, cpu


def main() -> None:
    rate, out_size, back_size = commands_over_pty(DSP_ROUND_TRIPS)
    print(f"DSP over pty (secure, unpaced): {rate:.0f} round trips/s "
          f"({out_size} bytes out, {back_size} bytes back)")
    raw = raw_pty(RAW_ROUND_TRIPS, out_size, back_size)
    print(f"bare socat pty echo of the same sizes: {raw:.0f} round trips/s")
    ratio, sim, cpu_ratio = sale_speed()
    print(f"chip-and-PIN sale ({CARD} inserted): {sim:.2f} simulated s, {ratio:.0f} "
          f"simulated s per wall s")
    tap_ratio, tap_sim, _ = sale_speed("tap")
    print(f"contactless sale ({CARD} tapped): {tap_sim:.2f} simulated s, {tap_ratio:.0f} "
          f"simulated s per wall s")
    print(json.dumps({
        "commands_per_s_pty": round(rate, 1),
        "raw_pty_roundtrips_per_s": round(raw, 1),
        "sale_sim_to_wall": round(ratio, 1),
        "sale_sim_to_wall_tap": round(tap_ratio, 1),
        "sale_sim_to_cpu": round(cpu_ratio, 1),
    }))


if __name__ == "__main__":
    main()
