"""The Worldnet GoChip Websockets agent with virtual ABECS readers on ptys.

Prints ws://127.0.0.1:8080/middleware (or the port chosen) and each reader's pty,
then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from protocol_servers.gochip.contract import SERVER, PortTaken


def add_arguments(parser: argparse.ArgumentParser) -> None:
    SERVER.add_arguments(parser)
    parser.add_argument("--factor", type=float, default=1.0,
                        help="wall seconds per simulated second (default 1.0)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--transcript", metavar="FILE", default=None,
                        help="write the masked transcript (JSON Lines) here on exit")


def serve(args: argparse.Namespace) -> int:
    import warnings

    from simulator.cli import CliError

    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    try:
        return asyncio.run(_serve(args))
    except PortTaken as exc:
        raise CliError(f"cannot serve: {exc.strerror}", 1) from None
    except OSError as exc:
        raise CliError(f"cannot serve: {exc}", 1) from None


async def _serve(args: argparse.Namespace) -> int:
    from simulator.world import World

    world = World(seed=args.seed, mode="realtime", factor=args.factor)
    started = await SERVER.start(world, args)
    for line in started.banner:
        print(line)
    print("  Ctrl-C to stop", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        await stop.wait()
    finally:
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await started.close()
        if args.transcript:
            world.transcript.dump(Path(args.transcript))
    return 0
