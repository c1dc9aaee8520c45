"""The issue's "done when", over a real WebSocket: a POS written from the note alone
initialises, connects a device, completes a sale with application selection and a
signature, a refund, a cancelled sale and a batch close. Plain ``websockets`` and
``json`` on the POS side; the agent with its virtual reader on a pty, in real time.

The card of that sale offers two applications (the cardholder must choose) and asks for
a signature: the Elo combo card of the catalogue with signature as its CVM, a card this
test defines from the catalogue's own file."""

from __future__ import annotations

import asyncio
import json
import tomllib
from decimal import Decimal
from importlib import resources
from typing import Any

from simulator.world import World


def combo_signature_card() -> Any:
    """elo-combo (credit and debit, the cardholder chooses) with a signature CVM."""
    from virtual_devices.emv.catalogue import load_profile

    cards = resources.files("virtual_devices.emv").joinpath("cards")
    raw = tomllib.loads(cards.joinpath("elo_combo.toml").read_text())
    raw["name"] = "elo-combo-signature"
    raw["app"]["cvm"] = raw["expected"]["cvm"] = "signature"
    return load_profile(raw, tomllib.loads(cards.joinpath("_brands.toml").read_text()))


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
        seen["sale"] = (await until("RES_ON_SALE_RESPONSE"))["data"]["saleResponse"]
        await send("REQ_PROCESS_REFUND", {"uniqueRef": seen["sale"]["uniqueRef"],
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
    from protocol_servers.gochip import live
    from protocol_servers.gochip.agent import Agent, AgentConfig

    world = World(seed=3, mode="realtime", factor=0.5)
    agent = Agent(world, AgentConfig())
    live.attach_readers(agent)  # the reader: a virtual ABECS pinpad on a pty
    agent.readers["reader0"].present_profile(combo_signature_card(), presentation="insert")
    ws = await live.start(agent, "127.0.0.1", 0)
    driver = asyncio.ensure_future(world.run_realtime())
    try:
        seen = await _pos(ws.url)
    finally:
        driver.cancel()
        try:
            await driver
        except (asyncio.CancelledError, Exception):
            pass
        await ws.close()
        agent.close()
    return seen, agent


def test_pos_from_the_note() -> None:
    seen, agent = asyncio.run(_run())
    assert seen["device"]["type"] == "RES_ON_DEVICE_CONNECTED"
    # one sale: the application chosen by the POS, then the signature it collected
    assert seen["applications"] and len(seen["applications"]) == 2
    assert seen.get("signed"), "no RES_ON_SIGNATURE_REQUIRED in the sale"
    sale = seen["sale"]
    assert sale["code"] == "A" and sale["cardType"] == "Elo", sale
    tags = {t["tag"]: t["value"] for t in sale["emvTags"]}
    assert tags["84"] == "A0000004942010", "the application the POS chose (index 1) was not used"
    assert seen["refund"]["code"] == "A"
    assert seen["cancel"] == ["CANCELLING", "CANCELLED"]
    batch = seen["batch"]
    assert (batch["saleCount"], batch["refundCount"]) == (1, 1), batch
    assert Decimal(str(batch["netTotal"])) == Decimal("15"), batch
    assert "REMOVE_CARD" in seen["messages"]
    # the gateway holds what the POS was told: the sale less the refund
    assert sorted(a for _, a in agent.bookings()) == [-500, 2000], agent.bookings()
    assert not agent.ledger_problems()
