"""The back-end faults of the catalogue on a served server, through its control API: a
POS pointed at ``cardloop serve`` can be shown an acquirer that is down or silent, and
the books stay equal to what it was told."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from protocol_servers.registry import lookup, options_for
from protocol_servers.serving import serve
from simulator.ports.http import http_json
from simulator.timings import load_timings

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

CHIP_PIN = "22162152"  # terminals.toml: a chip-and-PIN customer by default


async def _sale(pac: str, amount: int) -> dict[str, Any]:
    async with websockets.connect(pac) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sale",
                                  "params": {"tid": CHIP_PIN, "currency": "GBP",
                                             "amount": amount}}))
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if msg.get("id") == 1 and "method" not in msg:
                return dict(msg)


def _served(tmp_path: Path, body: Callable[[dict[str, str]], Awaitable[None]]) -> None:
    """Serve Connect at factor 0.2 with its pinpads on ptys, run ``body`` with its URLs,
    then stop it."""
    spec = lookup("connect")
    options = options_for(spec, factor=0.2, quiet=True, link_dir=str(tmp_path))

    async def run() -> None:
        ready = asyncio.Event()
        urls: dict[str, str] = {}

        def told(info: dict[str, Any], _started: Any) -> None:
            urls.update(info["urls"])
            ready.set()

        stop = asyncio.Event()
        task = asyncio.ensure_future(serve(spec, options, ready=told, stop=stop))
        await asyncio.wait_for(ready.wait(), 60)
        try:
            await body(urls)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    asyncio.run(run())


def test_backend_fault_on_a_served_connect_server(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def body(urls: dict[str, str]) -> None:
        control = urls["control"]
        seen["bad"] = await http_json(control + "/scenario/backend-fault", "POST",
                                      {"mode": "sideways"})
        seen["down"] = await http_json(control + "/scenario/backend-fault", "POST",
                                       {"mode": "down"})
        seen["refused"] = await _sale(urls["pac"], 1500)
        seen["healed"] = await http_json(control + "/scenario/backend-fault", "POST",
                                         {"mode": "none"})
        seen["approved"] = await _sale(urls["pac"], 1600)
        seen["state"] = await http_json(control + "/state", "GET")
        seen["transcript"] = await http_json(control + "/transcript", "GET")

    _served(tmp_path, body)
    assert seen["bad"][0] == 400, seen["bad"]
    status, down = seen["down"]
    assert status == 200 and down["applied"]["backend"] == {"mode": "down", "delay": 0.0}
    refused = seen["refused"]["result"]
    assert refused["transactionResult"] != "SUCCESSFUL", refused
    assert seen["healed"][1]["applied"]["backend"]["mode"] == "none"
    approved = seen["approved"]["result"]
    assert approved["transactionResult"] == "SUCCESSFUL", approved
    text = json.dumps(seen["transcript"])
    assert "backend.down" in text


def test_pinpad_power_on_a_served_connect_server(tmp_path: Path) -> None:
    """The pinpad reboots as FNC arrives: the EPoS is told the sale failed, the approval
    the card never confirmed is reversed, and after the boot the next sale goes through."""
    seen: dict[str, Any] = {}

    async def body(urls: dict[str, str]) -> None:
        control = urls["control"]
        seen["bad"] = await http_json(control + "/scenario/pinpad-power", "POST",
                                      {"kind": "reboot", "at": "fnc"})
        seen["armed"] = await http_json(control + "/scenario/pinpad-power", "POST",
                                        {"kind": "reboot"})
        seen["failed"] = await _sale(urls["pac"], 1500)
        # the EPoS tries again once the pinpad has booted (wall seconds at this factor)
        await asyncio.sleep(load_timings("virtual_devices.abecs")["boot_time"] * 0.2 + 1.0)
        seen["approved"] = await _sale(urls["pac"], 1600)
        seen["state"] = await http_json(control + "/state", "GET")
        seen["transcript"] = await http_json(control + "/transcript", "GET")

    _served(tmp_path, body)
    assert seen["bad"][0] == 400, seen["bad"]
    status, armed = seen["armed"]
    assert status == 200 and armed["applied"]["pinpad_power"] == {
        "kind": "reboot", "at": "FNC", "off": 0.0}
    assert seen["failed"]["result"]["transactionResult"] != "SUCCESSFUL", seen["failed"]
    assert seen["approved"]["result"]["transactionResult"] == "SUCCESSFUL", seen["approved"]
    text = json.dumps(seen["transcript"])
    assert "device.reboot" in text and "power lost as FNC arrived" in text
    # the approval of the failed sale did not stay booked: only the second sale's money
    ledger = seen["state"][1]["server"]["ledger"]
    assert ledger["settled"] == 1600 and ledger["net"] == 1600 and ledger["held"] == 0, ledger
