"""A POS written from the note alone, over a real WebSocket to ``cardloop serve gochip``'s
agent: set-up, a sale with application selection, a sale with a signature, a refund, a
cancelled sale and a batch close. Plain ``websockets`` and ``json`` on the POS side."""

from __future__ import annotations

import argparse
import asyncio
import json
from decimal import Decimal
from typing import Any

from protocol_servers.gochip.contract import SERVER
from simulator.world import World


async def _pos(url: str) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    seen: dict[str, Any] = {"messages": []}
    async with connect(url) as ws:
        async def send(kind: str, data: dict[str, Any]) -> None:
            await ws.send(json.dumps({"type": kind, "data": data}))

        async def until(*kinds: str) -> dict[str, Any]:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 60), parse_float=Decimal)
                kind = msg["type"]
                if kind == "RES_ON_MESSAGE":
                    seen["messages"].append(msg["data"]["message"])
                elif kind == "RES_ON_SELECT_APPLICATION":
                    seen["applications"] = msg["data"]["applications"]
                    await send("REQ_SUBMIT_APPLICATION", {"index": 1})
                elif kind == "RES_ON_SIGNATURE_REQUIRED":
                    seen["signed"] = True
                    await send("REQ_SUBMIT_SIGNATURE",
                               {"signatureData": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]})
                if kind in kinds:
                    return msg  # type: ignore[no-any-return]

        await until("RES_ON_WS_INIT_REQUIRED")
        await send("REQ_WS_INIT", {"mode": "TEST", "logLevel": "LEVEL_FULL"})
        await until("RES_ON_WS_INIT")
        await send("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "2997001", "secret": "x"})
        await until("RES_ON_SETTINGS_RETRIEVED")
        await send("REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                       "inputMethod": "SWIPE_OR_INSERT_OR_TAP",
                                       "emvType": "STANDARD"})
        seen["device"] = await until("RES_ON_DEVICE_CONNECTED", "RES_ON_DEVICE_ERROR")
        await send("REQ_PROCESS_SALE", {"amount": "20.00", "orderId": "ORDER1"})
        seen["sale1"] = (await until("RES_ON_SALE_RESPONSE"))["data"]["saleResponse"]
        await send("REQ_PROCESS_SALE", {"amount": "30.00", "orderId": "ORDER2"})
        seen["sale2"] = (await until("RES_ON_SALE_RESPONSE"))["data"]["saleResponse"]
        await send("REQ_PROCESS_REFUND", {"uniqueRef": seen["sale1"]["uniqueRef"],
                                          "amount": "5.00", "reason": "return"})
        seen["refund"] = (await until("RES_ON_REFUND_RESPONSE"))["data"]["refundResponse"]
        await send("REQ_PROCESS_SALE", {"amount": "9.00"})
        while "PRESENT_CARD" not in seen["messages"][-1:]:
            await until("RES_ON_MESSAGE")
        await send("REQ_CANCEL_TRANSACTION", {})
        first = await until("RES_ON_CANCEL_TRANSACTION_ATTEMPT")
        second = await until("RES_ON_CANCEL_TRANSACTION_ATTEMPT")
        seen["cancel"] = [first["data"]["cancellationStatus"],
                          second["data"]["cancellationStatus"]]
        await send("REQ_CLOSE_TRANSACTIONS_BATCH", {})
        seen["batch"] = (await until("RES_ON_REQUEST_CLOSE_BATCH_RESPONSE"))["data"]["batch"]
    return seen


async def _run() -> tuple[dict[str, Any], Any]:
    world = World(seed=3, mode="realtime", factor=0.5)
    args = argparse.Namespace(port=0, gateway="first-data", readers=1, serial=None,
                              link_dir=None, card=["elo-combo", "mc-chip-signature",
                                                   "visa-chip-pin"],
                              entry="insert")  # the note's POS picks among chip applications
    started = await SERVER.start(world, args)
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        seen = await _pos(started.urls["gochip"])
    finally:
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await started.close()
    return seen, world


def test_pos_from_the_note() -> None:
    seen, world = asyncio.run(_run())
    assert seen["device"]["type"] == "RES_ON_DEVICE_CONNECTED"
    assert seen["applications"] and len(seen["applications"]) == 2
    assert seen["sale1"]["code"] == "A" and seen["sale1"]["cardType"] == "Elo"
    assert seen.get("signed") and seen["sale2"]["code"] == "A"
    assert seen["refund"]["code"] == "A"
    assert seen["cancel"] == ["CANCELLING", "CANCELLED"]
    assert Decimal(str(seen["batch"]["netTotal"])) == Decimal("45")
    assert "REMOVE_CARD" in seen["messages"]
