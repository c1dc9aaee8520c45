"""paymentsense-connect.md §2.3 with DECISIONS.md: an EPoS that stops answering the
keep-alive is closed with 1011, whichever keep-alive the server uses. Over a real
WebSocket the close code is on the wire, so it is checked there."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from conformance import case


@case("connect/2.3/3", title="with the JSON-RPC ping on, an EPoS that reads but never answers "
      "it is closed with 1011 over a real WebSocket, and one that answers is kept",
      section="2.3", failure="a silent EPoS is closed with another code, or not at all")
def test_rpc_ping_close_code(connect: Any) -> None:
    connect.need_reference("needs the reference's JSON-RPC ping option")
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    from protocol_servers.connect import live
    from protocol_servers.connect.server import ServerConfig
    from simulator.world import World

    world = World(seed=1, mode="realtime", factor=0.01)  # 30 s ping = 0.3 s wall

    async def scenario() -> tuple[Any, list[str], bool]:
        ep = await live.start(world, ServerConfig(rpc_ping=True), pinpads="memory")
        driver = asyncio.ensure_future(world.run_realtime())
        try:
            quiet = await ws_connect(ep.pac_url, ping_interval=None)
            good = await ws_connect(ep.pac_url, ping_interval=None)
            heard: list[str] = []

            async def answer_pings() -> None:
                async for text in good:
                    doc = json.loads(text)
                    if doc.get("method") == "ping":
                        heard.append("ping")
                        await good.send(json.dumps({"jsonrpc": "2.0", "id": doc["id"],
                                                    "result": {}}))

            answering = asyncio.ensure_future(answer_pings())
            # the quiet one reads (its library answers RFC 6455 pings) but sends nothing
            try:
                async for _ in quiet:
                    pass
            except ConnectionClosed:
                pass  # closed with an error code: the code is what this case reads
            await asyncio.sleep(0.5)
            answering.cancel()
            return quiet.close_code, heard, good.close_code is None
        finally:
            driver.cancel()
            await ep.close()

    loop = asyncio.new_event_loop()
    try:
        code, heard, kept = loop.run_until_complete(asyncio.wait_for(scenario(), 20))
    finally:
        loop.close()
    assert code == 1011, f"closed with {code}"
    assert heard and kept, "the EPoS that answered the ping was not kept"
