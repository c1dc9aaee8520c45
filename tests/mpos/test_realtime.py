"""The bridge on real ptys and a real WebSocket: every catalogue card, end to end.

A POS outside the world (the ``websockets`` client and raw HTTP) pays with each card;
the bridge opens the pty with pyserial at initialize, exactly as with a real pinpad.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.pos import run_sale
from protocol_servers.mpos.runtime import start_bridge
from simulator.driver import realtime_driver
from simulator.world import World

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

# a realtime factor fast enough for CI, slow enough for a loaded two-core machine (at 0.15
# a load average of 10 could miss the ABECS 2 s ACK window, 0.3 s of wall time)
FACTOR = 0.3


def _cards() -> dict[str, str]:
    from virtual_devices.emv.catalogue import catalogue

    return {n: p.expected["outcome"] for n, p in catalogue().items()
            if p.expected.get("outcome")}


CARDS = _cards()


async def _all_sales() -> tuple[dict[str, Any], World]:
    world = World(seed=3, mode="realtime", factor=FACTOR)
    running = await start_bridge(world, readers=1)
    pinpad = running.lab.readers[0].pinpad
    pinpad.customer.behaviour.presentation = "insert"  # the outcomes are the contact ones
    results: dict[str, Any] = {}
    try:
        async with realtime_driver(world):
            for i, name in enumerate(sorted(CARDS)):
                card = card_from_name(world, name)

                def present(card: Any = card) -> None:
                    pinpad.cards.clear()  # a card a failed sale left behind is taken back
                    pinpad.queue_card(card)

                world.inject(present)
                results[name] = await run_sale(running.url, running.merchant_url or "", 1000 + i,
                                               context=f"sale-{i}", timeout=60)
    finally:
        await running.close()
    return results, world


def test_every_catalogue_card_over_real_ports() -> None:
    results, world = asyncio.run(_all_sales())
    for name, outcome in CARDS.items():
        r = results[name]
        steps = {s.name: s.answer for s in r.steps}
        assert steps["initialize"]["response_type"] == 2, (name, steps["initialize"])
        assert steps["close"]["response_type"] == 8, name
        proc = steps["process"]
        if outcome == "declined-by-card":
            # the card refused what the host approved; the document's finish answers 5
            # all the same (the report is the +card-decline-report switch), so it stays
            assert steps["finish"]["response_type"] == 5, (name, steps["finish"])
            assert not r.declined_by_card and r.transaction["status"] == "authorized", name
            continue
        assert steps["finish"]["response_type"] == 5, name
        if outcome in ("approved-online", "approved-offline"):
            assert r.ok, (name, r.error)
        elif outcome == "declined-online":
            assert proc["response_type"] == 4 and r.transaction["status"] == "refused", name
        elif outcome == "declined-offline":
            assert proc["error"] == "Transaction Rejected", (name, proc)
        elif outcome == "fallback":
            assert proc["process"]["error_code"] == 76, (name, proc)
            assert any(u["error"] == "Error: 76" for u in r.unsolicited), name
    from virtual_devices.emv.catalogue import catalogue

    text = world.transcript.jsonl()
    for name in CARDS:
        assert catalogue()[name].pan not in text
