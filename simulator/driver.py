"""Start and stop the realtime driver around a block of asyncio code.

In realtime mode SimPy only moves while :meth:`World.run_realtime` runs as a task.
Every server, demo, bench and test that serves sockets needs that task alive for as
long as it serves, and stopped (and awaited) when it ends, however it ends::

    async with realtime_driver(world):
        result = await client_call(...)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from simulator.world import World


@contextlib.asynccontextmanager
async def realtime_driver(world: World) -> AsyncIterator[asyncio.Future[object]]:
    """Run the world's clock with the wall clock while the block runs."""
    driver: asyncio.Future[object] = asyncio.ensure_future(world.run_realtime())
    try:
        yield driver
    finally:
        if driver.done():
            # it ended by itself (the world loop died): whoever waited on it has said
            # so already; its exception is read here, not raised again into the block
            if not driver.cancelled():
                driver.exception()
        else:
            driver.cancel()
            try:
                await driver
            except (asyncio.CancelledError, Exception):
                pass  # the driver's own failure is not the block's: the block's result stands
