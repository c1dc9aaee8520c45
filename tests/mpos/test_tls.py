"""``wss://``: the certificate made at start is trusted through the CA file it writes."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest
import websockets

from protocol_servers.mpos.runtime import start_bridge
from simulator.driver import realtime_driver
from simulator.world import World


@pytest.mark.realtime
def test_wss_with_the_generated_ca(tmp_path: Path) -> None:
    async def run() -> tuple[str, dict[str, object], bool]:
        world = World(seed=1, mode="realtime", factor=1.0)
        running = await start_bridge(world, readers=0, tls_ca=tmp_path / "ca.pem",
                                     merchant_port=None)
        try:
            async with realtime_driver(world):
                trusted = ssl.create_default_context(cafile=str(running.ca_path))
                async with websockets.connect(running.url, ssl=trusted) as ws:
                    await ws.send(json.dumps({"request_type": 7, "context_id": "tls"}))
                    answer = json.loads(await ws.recv())
                refused = False
                try:
                    async with websockets.connect(running.url, ssl=ssl.create_default_context()):
                        pass
                except ssl.SSLCertVerificationError:
                    refused = True
                return running.url, answer, refused
        finally:
            await running.close()

    url, answer, refused = asyncio.run(run())
    assert url.startswith("wss://127.0.0.1:") and url.endswith("/mpos")
    assert answer["response_type"] == 7
    assert refused, "a client without the CA must not trust the bridge"
