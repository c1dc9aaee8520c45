"""The terminal application over a real pty pair, on the wall clock: the same calls as
in memory, the bytes crossing a tty."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Generator
from typing import Any

import pytest

from simulator.world import World
from virtual_devices.abecs import messages as m
from virtual_devices.abecs.customer import Behaviour
from virtual_devices.abecs.rig import VERSION, aid_records, visa_swipe
from virtual_devices.terminal import Tables, events, pinpad_end

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed"),
]


def test_a_swiped_sale_over_a_pty_reports_the_card_and_the_pin() -> None:
    world = World(seed=5, mode="realtime", factor=0.5)  # two simulated seconds a wall second
    seen: list[events.TerminalEvent] = []

    async def main() -> Any:
        end = pinpad_end(world, "pty", cards=[visa_swipe()],
                         customer=Behaviour(think_s=(0.2, 0.4), typing_s=(0.05, 0.1)))
        term = end.terminal(observer=seen.append)
        tables = Tables(VERSION, tuple(aid_records()))

        def flow() -> Generator[Any, Any, Any]:
            yield from term.host.cancel()
            yield from term.host.opn()
            return (yield from term.process(2500, tables, app_type=2))

        try:
            return await asyncio.wait_for(world.run_realtime(until=world.process(flow())), 60)
        finally:
            end.close()

    done = asyncio.run(main())
    assert done.card.card_type == m.CARD_MAGSTRIPE and done.pin is not None
    assert done.card.pan == "4761739001010010"
    kinds = [type(e).__name__ for e in seen]
    assert kinds.count("CardPresented") == 1 and "PinEntered" in kinds
