"""Driving a realtime world for a server process, and noticing when it stops.

A server whose world loop has died still accepts connections (the sockets belong to
asyncio, not to the world) but never answers one. That is the worst failure a POS can
meet, so a server must not outlive its world: :func:`until_stopped` returns as soon as
either the operator asks to stop or the world's driver ends by itself, and says which.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from typing import Any, TextIO

from simulator.world import World

#: exit status of a server whose world loop died (any non-zero would do; 70 is EX_SOFTWARE)
WORLD_DIED = 70
#: lateness samples a long-running server keeps (not one per event for days)
LATENESS_SAMPLES = 10_000


def for_a_server(world: World) -> None:
    """Bound what a world keeps for its whole life when it runs a server for days."""
    world.lateness.limit = min(world.lateness.limit, LATENESS_SAMPLES)


async def until_stopped(driver: asyncio.Future[Any], stop: asyncio.Event, name: str = "server",
                        err: TextIO | None = None) -> int:
    """Wait for ``stop`` (returns 0) or for ``driver`` to end by itself (returns non-zero,
    after saying why on ``err``, stderr by default, at once)."""
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({driver, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if driver not in done:
        return 0
    out = err if err is not None else sys.stderr
    exc = None if driver.cancelled() else driver.exception()
    print(f"{name}: the world loop stopped ({exc!r}); requests can no longer be "
          "answered, so the server exits", file=out, flush=True)
    if exc is not None:
        traceback.print_exception(exc, file=out)
    return WORLD_DIED


async def drive_until_stopped(
    world: World, stop: asyncio.Event, name: str = "server", err: TextIO | None = None
) -> int:
    """Run ``world`` in realtime until ``stop`` is set (returns 0) or the loop dies (non-zero)."""
    from simulator.driver import realtime_driver

    for_a_server(world)
    async with realtime_driver(world) as driver:
        return await until_stopped(driver, stop, name, err)
