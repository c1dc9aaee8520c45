"""``cardloop pty`` and ``cardloop world-demo``: the world's ports from a shell.

``pty`` makes a linked pair of pseudo-terminals and holds it open until Ctrl-C, so a
POS program can be pointed at one end while a pinpad twin (or a terminal program)
opens the other. ``world-demo`` runs a tiny echo device on a pty in realtime mode:
connect to the printed path with any terminal program, type a line, and the device
answers it in upper case after its think time, on the world's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from typing import Any

from simulator.cli import SEED_HELP, CliError
from simulator.timings import load_timings


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pty",
        help="make a linked pty pair and print both paths until Ctrl-C",
        description="Make a linked pair of pseudo-terminals (socat) and keep it until Ctrl-C.",
    )
    p.add_argument("--link-dir", help="directory for the two links (default: a temporary one)")
    p.add_argument(
        "names",
        nargs="*",
        default=["host", "device"],
        metavar="NAME",
        help="the two link names (default: host device)",
    )
    p.set_defaults(func=cmd_pty)

    d = subparsers.add_parser(
        "world-demo",
        help="run an echo device on a pty in realtime mode",
        description="An echo device on a pty, driven by the world's realtime clock.",
    )
    d.add_argument("--link-dir", help="directory for the pty links (default: a temporary one)")
    d.add_argument("--factor", type=float, default=1.0, help="wall seconds per simulated second")
    d.add_argument("--seed", type=int, default=1, help=f"{SEED_HELP} (default 1)")
    d.add_argument(
        "--probe",
        type=int,
        default=0,
        metavar="N",
        help="send N lines from the host side, print the answers and exit",
    )
    d.add_argument("--seconds", type=float, default=None, help="stop after this many sim seconds")
    d.set_defaults(func=cmd_world_demo)


def _pair(link_dir: str | None, names: list[str]) -> Any:
    from simulator.ports.pty import PtyError, PtyPair

    if len(names) != 2:
        raise CliError("give exactly two link names, e.g. 'cardloop pty host device'")
    try:
        return PtyPair(link_dir=link_dir, names=(names[0], names[1])).open()
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except PtyError as exc:
        raise CliError(str(exc), code=1) from None


def cmd_pty(args: argparse.Namespace) -> int:
    pair = _pair(args.link_dir, list(args.names))
    try:
        print(f"{pair.names[0]}: {pair.host_path}")
        print(f"{pair.names[1]}: {pair.device_path}")
        print("Ctrl-C to remove the pair", flush=True)
        # a shell command waiting for Ctrl-C, not device behaviour: plain wall-clock waits
        while pair.alive:
            time.sleep(0.5)
        raise CliError("socat stopped unexpectedly; the pty pair is gone", code=1)
    except KeyboardInterrupt:
        return 0
    finally:
        pair.close()


def cmd_world_demo(args: argparse.Namespace) -> int:
    if args.factor <= 0:
        raise CliError("--factor must be positive")
    pair = _pair(args.link_dir, ["host", "device"])
    try:
        return asyncio.run(_demo(args, pair))
    except KeyboardInterrupt:
        return 0
    finally:
        pair.close()


async def _demo(args: argparse.Namespace, pair: Any) -> int:
    from simulator.ports.pty import open_serial_end
    from simulator.world import World

    timings = load_timings("simulator", "world_demo.toml")
    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    device = open_serial_end(world, pair.device_path, name="device")

    def echo() -> Any:
        pending = b""
        while True:
            data = yield device.read()
            if not data:
                return
            pending += data
            while b"\n" in pending or b"\r" in pending:
                cut = min(i for i in (pending.find(b"\n"), pending.find(b"\r")) if i >= 0)
                line, pending = pending[:cut], pending[cut + 1 :]
                if not line:
                    continue
                yield world.timeout(timings["echo_delay"])
                device.write(line.upper() + b"\r\n")

    world.process(echo())
    until: Any = args.seconds
    if args.probe > 0:
        host = open_serial_end(world, pair.host_path, name="host")

        def probe() -> Any:
            got = b""
            for i in range(args.probe):
                sent_at = world.now
                host.write(f"ping {i}\n".encode())
                while b"\n" not in got:
                    got += yield host.read()
                line, got = got.split(b"\n", 1)
                took = (world.now - sent_at) * 1000
                print(f"{line.decode().strip()}  ({took:.1f} ms simulated)", flush=True)
                yield world.timeout(timings["probe_interval"])
            host.close()

        until = world.process(probe())
    else:
        print(f"echo device listening on {pair.host_path}", flush=True)
        print("open it with a terminal program (e.g. picocom) and type; Ctrl-C to stop", flush=True)
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, lambda: sys.exit(0))
    await world.run_realtime(until=until)
    device.close()
    s = world.lateness.summary()
    print(
        f"events {s['events']}, lateness p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
        flush=True,
    )
    return 0
