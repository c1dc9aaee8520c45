"""The Valor semi-integration reference terminal (WebSocket + TCP on 5000, cancel on 5001, USB pty).

``cardloop serve valor`` prints where the POS connects and serves until interrupted;
``--role client --pos URL`` dials the POS instead.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from protocol_servers.valor.contract import SERVER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    SERVER.add_arguments(parser)
    parser.add_argument("--factor", type=float, default=1.0,
                        help="wall seconds per simulated second (default 1.0)")
    parser.add_argument("--seed", type=int, default=1)


def serve(args: argparse.Namespace) -> int:
    import warnings

    from simulator.cli import CliError

    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    try:
        return asyncio.run(_serve(args))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None


async def _serve(args: argparse.Namespace) -> int:
    from simulator.world import World

    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    driver = asyncio.ensure_future(world.run_realtime())
    started = await SERVER.start(world, args)
    for line in started.banner:
        print(line, flush=True)
    print("  Ctrl-C to stop", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await started.close()
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
    return 0
