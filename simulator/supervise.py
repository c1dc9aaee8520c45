"""Driving a realtime world for a server process, and noticing when it stops.

A server whose world loop has died still accepts connections (the sockets belong to
asyncio, not to the world) but never answers one. That is the worst failure a POS can
meet, so ``serve`` must not outlive its world: :func:`drive_until_stopped` returns as soon
as either the operator asks to stop or the world loop ends by itself, and says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import traceback
from typing import TextIO

from simulator.world import World

#: exit status of a server whose world loop died (any non-zero would do; 70 is EX_SOFTWARE)
WORLD_DIED = 70
LATENESS_SAMPLES = 10_000


async def drive_until_stopped(
    world: World, stop: asyncio.Event, name: str = "server", err: TextIO | None = None
) -> int:
    """Run ``world`` in realtime until ``stop`` is set (returns 0) or the loop dies (non-zero).

    On death the reason and its traceback go to ``err`` (stderr) at once.
    """
    # a server runs for days: its lateness record keeps a bounded sample, not every event
    world.lateness.limit = min(world.lateness.limit, LATENESS_SAMPLES)
    driver = asyncio.ensure_future(world.run_realtime())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({driver, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if driver in done:
        out = err if err is not None else sys.stderr
        exc = None if driver.cancelled() else driver.exception()
        print(f"{name}: the world loop stopped ({exc!r}); requests can no longer be "
              "answered, so the server exits", file=out, flush=True)
        if exc is not None:
            traceback.print_exception(exc, file=out)
        return WORLD_DIED
    driver.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await driver
    return 0
