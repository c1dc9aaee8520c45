"""PayServer login with many configured devices, over a real WebSocket on loopback.

* ``login_1000_devices_s``: wall seconds for one LOGIN_MERCHANT round trip (request,
  answer listing every device, decoded by the client) against a realtime server with
  1,000 MOCK devices; median of 5.
* ``login_1000_vs_1_ratio``: the same with 1 device divided by the 1,000-device time
  (how much the device list costs), both measured in this run.

The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import report  # noqa: E402

from protocol_servers.p3 import live  # noqa: E402
from protocol_servers.p3.config import DeviceConfig, ServerConfig  # noqa: E402
from protocol_servers.p3.server import PayServer  # noqa: E402
from simulator.driver import realtime_driver  # noqa: E402
from simulator.world import World  # noqa: E402

LOGIN = ('{"type":"LOGIN_MERCHANT_REQUEST","tag":"t","loginMerchantRequest":'
         '{"providerMode":"MOCK","merchantIdentifier":"m","merchantSecret":"s"}}')


async def login_seconds(devices: int) -> float:
    import websockets

    world = World(seed=1, mode="realtime", factor=1.0)
    cfg = ServerConfig(devices=tuple(DeviceConfig(f"m{i}", f"Mock {i}") for i in range(devices)))
    server = PayServer(world, cfg)
    ends = await live.start(server, "127.0.0.1", 0, 0)
    times = []
    try:
        async with realtime_driver(world):
            async with websockets.connect(ends.ws_url, max_size=None) as ws:
                for _ in range(5):
                    t0 = time.perf_counter()
                    await ws.send(LOGIN)
                    answer = json.loads(await ws.recv())
                    times.append(time.perf_counter() - t0)
                    assert len(answer["loginMerchantResponse"]["devices"]) == devices
    finally:
        await ends.close()
    return statistics.median(times)


def main() -> None:
    many = asyncio.run(login_seconds(1000))
    one = asyncio.run(login_seconds(1))
    report({"login_1000_devices_s": round(many, 4),
            "login_1000_vs_1_ratio": round(one / many, 3)},
           targets={"login_1000_devices_s": 0.5})


if __name__ == "__main__":
    main()
