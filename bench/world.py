"""How the world itself performs: event rate, realtime accuracy, pacing, pty throughput.

Four measurements, side by side in one run:

``virtual_events_per_s``
    SimPy events per second in virtual mode: 200 processes waiting on seeded random
    timeouts, plus a byte link carrying traffic with the transcript on (so the port
    machinery is part of the figure).
``realtime_p99_lateness_ms``
    At factor 1, how late (99th percentile) events fire against their wall-clock
    deadline while timers run every few milliseconds and an echo device answers
    over a real pty.
``pacing_error_pct``
    A paced pty end at 115200 baud 8N1 (11520 bytes/s nominal) sends a block; the
    other end of the pty timestamps what arrives. The error is the measured byte
    rate against nominal, from the first arrival to the last.
``pty_throughput_ratio``
    Bytes/s in both directions between one cardloop pty end (world, port,
    transcript with masking) and a bare descriptor on the other side of the pty,
    against the same transfers between the two bare descriptors of a socat pair.

The last line printed is one JSON object with those four keys (and the targets).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import statistics
import sys
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Stopwatch, report  # noqa: E402

from simulator.pacing import Pacing  # noqa: E402
from simulator.ports.pty import PtyPair, open_serial_end  # noqa: E402
from simulator.streams import byte_link  # noqa: E402
from simulator.world import World  # noqa: E402

TARGETS = {"realtime_p99_lateness_ms": 2.0, "pacing_error_pct": 2.0, "pty_throughput_ratio": 0.5}


# -- virtual event rate ---------------------------------------------------------------
def virtual_events_per_s(events: int) -> tuple[float, int]:
    w = World(seed=1, mode="virtual")
    rng = w.rng("bench")
    a, b = byte_link(w, "host", "pinpad")

    def sleeper():  # type: ignore[no-untyped-def]
        while True:
            yield w.timeout(rng.uniform(0.001, 0.1))

    def talker():  # type: ignore[no-untyped-def]
        while True:
            a.write(b"\x02PING\x03")
            yield w.timeout(0.005)

    def listener():  # type: ignore[no-untyped-def]
        while True:
            data = yield b.read()
            if not data:
                return

    for _ in range(200):
        w.process(sleeper())
    w.process(talker())
    w.process(listener())
    env = w.env
    step = env.step
    with Stopwatch() as sw:
        for _ in range(events):
            step()
    return events / sw.seconds, events


# -- realtime lateness ----------------------------------------------------------------
async def realtime_lateness(seconds: float) -> dict[str, float | int]:
    w = World(seed=1, mode="realtime", factor=1.0)
    rng = w.rng("bench")
    with PtyPair() as pair:
        device = open_serial_end(w, pair.device_path, name="device")
        host = open_serial_end(w, pair.host_path, name="host")

        def echo():  # type: ignore[no-untyped-def]
            while True:
                data = yield device.read()
                if not data:
                    return
                yield w.timeout(0.002)
                device.write(data)

        def client():  # type: ignore[no-untyped-def]
            while True:
                host.write(b"\x02STATUS\x03")
                yield host.read()
                yield w.timeout(rng.uniform(0.005, 0.02))

        def timer():  # type: ignore[no-untyped-def]
            while True:
                yield w.timeout(rng.uniform(0.001, 0.01))

        w.process(echo())
        w.process(client())
        for _ in range(10):
            w.process(timer())
        await w.run_realtime(until=seconds)
        host.close()
        device.close()
    return w.lateness.summary()


# -- pacing accuracy ----------------------------------------------------------------
async def pacing_error(nbytes: int) -> tuple[float, float]:
    pacing = Pacing(115200, "8N1")
    w = World(seed=1, mode="realtime", factor=1.0)
    with PtyPair() as pair:
        device = open_serial_end(w, pair.device_path, name="device", pacing=pacing)
        fd = os.open(pair.host_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        loop = asyncio.get_running_loop()
        arrivals: list[tuple[float, int]] = []
        done = loop.create_future()
        total = 0

        def readable() -> None:
            nonlocal total
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            arrivals.append((time.monotonic(), len(data)))
            total += len(data)
            if total >= nbytes and not done.done():
                done.set_result(None)

        loop.add_reader(fd, readable)
        device.write(bytes(nbytes))
        runner = asyncio.ensure_future(w.run_realtime())
        await asyncio.wait_for(done, 60)
        runner.cancel()
        loop.remove_reader(fd)
        os.close(fd)
        device.close()
    first_t, first_n = arrivals[0]
    last_t = arrivals[-1][0]
    measured = (total - first_n) / (last_t - first_t)
    nominal = pacing.bytes_per_second
    return abs(measured - nominal) / nominal * 100.0, measured


# -- pty throughput ----------------------------------------------------------------
def _payload(nbytes: int) -> bytes:
    """Seeded random bytes: what a binary serial protocol looks like to the transcript."""
    import random

    return random.Random(1).randbytes(nbytes)


def _bare_one_way(wfd: int, rfd: int, payload: memoryview) -> None:
    nbytes = len(payload)
    sent = got = 0
    while got < nbytes:
        want_w = [wfd] if sent < nbytes else []
        r, wr, _ = select.select([rfd], want_w, [], 5)
        if not r and not wr:
            raise RuntimeError("bare socat transfer stalled")
        if wr:
            try:
                sent += os.write(wfd, payload[sent : sent + 65536])
            except BlockingIOError:
                pass
        if r:
            try:
                got += len(os.read(rfd, 65536))
            except BlockingIOError:
                pass


def _open_raw(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    return fd


def bare_socat_throughput(nbytes: int) -> float:
    """Both directions between the bare descriptors of a socat pty pair."""
    with PtyPair() as pair:
        dev, host = _open_raw(pair.device_path), _open_raw(pair.host_path)
        payload = memoryview(_payload(nbytes))
        with Stopwatch() as sw:
            _bare_one_way(dev, host, payload)
            _bare_one_way(host, dev, payload)
        os.close(dev)
        os.close(host)
    return 2 * nbytes / sw.seconds


async def cardloop_throughput(nbytes: int) -> float:
    """Both directions between one cardloop pty end (world, port, transcript) and a bare
    descriptor on the other side: the place a POS program or a real device would be."""
    w = World(seed=1, mode="realtime", factor=1.0)
    payload = _payload(nbytes)
    loop = asyncio.get_running_loop()
    with PtyPair() as pair:
        device = open_serial_end(w, pair.device_path, name="device")
        host = _open_raw(pair.host_path)
        received = 0
        sent = 0
        all_in = loop.create_future()

        def readable() -> None:
            nonlocal received
            try:
                received += len(os.read(host, 65536))
            except BlockingIOError:
                return
            if received >= nbytes and not all_in.done():
                all_in.set_result(None)

        def writable() -> None:
            nonlocal sent
            try:
                sent += os.write(host, payload[sent : sent + 65536])
            except BlockingIOError:
                return
            if sent >= nbytes:
                loop.remove_writer(host)

        def device_reads():  # type: ignore[no-untyped-def]
            got = 0
            while got < nbytes:
                got += len((yield device.read()))

        with Stopwatch() as sw:
            loop.add_reader(host, readable)
            for i in range(0, nbytes, 65536):  # writes go to the OS from the end itself
                device.write(payload[i : i + 65536])
            await asyncio.wait_for(all_in, 120)
            loop.remove_reader(host)
            loop.add_writer(host, writable)
            await asyncio.wait_for(w.run_realtime(until=w.process(device_reads())), 120)
        device.close()
        os.close(host)
    return 2 * nbytes / sw.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--realtime-seconds", type=float, default=5.0)
    parser.add_argument("--pacing-bytes", type=int, default=34_560)  # 3 s at 115200 8N1
    parser.add_argument("--throughput-bytes", type=int, default=4 << 20)
    parser.add_argument("--rounds", type=int, default=3, help="throughput pairs (median)")
    args = parser.parse_args()

    rate, n = virtual_events_per_s(args.events)
    print(f"virtual: {n} events at {rate:,.0f} events/s", flush=True)

    lat = asyncio.run(realtime_lateness(args.realtime_seconds))
    print(f"realtime factor 1, {args.realtime_seconds:g} s: lateness {lat}", flush=True)

    err, measured = asyncio.run(pacing_error(args.pacing_bytes))
    print(
        f"pacing 115200 8N1 over a pty: {measured:,.1f} bytes/s against 11,520 nominal "
        f"({err:.3f} % off)",
        flush=True,
    )

    # the machine is shared: interleave the two transfers and keep the median ratio
    ratios = []
    for _ in range(args.rounds):
        bare = bare_socat_throughput(args.throughput_bytes)
        ours = asyncio.run(cardloop_throughput(args.throughput_bytes))
        ratios.append(ours / bare)
        print(
            f"pty throughput, {args.throughput_bytes >> 20} MiB each way: bare socat "
            f"{bare / 1e6:.2f} MB/s, one cardloop port {ours / 1e6:.2f} MB/s "
            f"(ratio {ours / bare:.3f})",
            flush=True,
        )
    ratio = statistics.median(ratios)
    print(f"load average during the run: {os.getloadavg()[0]:.2f}", flush=True)

    result = {
        "virtual_events_per_s": round(rate),
        "realtime_p99_lateness_ms": lat["p99_ms"],
        "pacing_error_pct": round(err, 3),
        "pty_throughput_ratio": round(ratio, 3),
    }
    report(result, TARGETS)


if __name__ == "__main__":
    main()
