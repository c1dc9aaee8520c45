"""``kill -9`` of any served server mid-sale leaves a transcript that ends within one line.

Every ``cardloop serve`` streams its masked transcript through the same writer (flushed
JSON Lines). For each server a POS starts a sale over its WebSocket; once the pinpad is
reading the card (a GCR crossed the serial line), the server is killed with SIGKILL. The
file must hold every line written before the kill, each whole but perhaps the last.
(The PayServer's own case is tests/simulator/test_robust_world.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

URL = re.compile(r"ws://127\.0\.0\.1:\d+\S*")
MARKER = "GCR"  # the pinpad is reading the card: the sale is under way
SALE_WITHIN = 30.0  # wall seconds for a sale to reach the card read at --factor 0.05


async def _mpos(ws: Any) -> None:
    await ws.send(json.dumps({"request_type": 1, "context_id": "k"}))
    devices = json.loads(await ws.recv())["device_list"]
    await ws.send(json.dumps({"request_type": 2, "context_id": "k", "initialize": {
        "device_id": devices[0]["id"], "encryption_key": "ek_test_cardloop",
        "baud_rate": 19200, "simple_initialize": False, "timeout_milliseconds": 0}}))
    await ws.recv()
    await ws.send(json.dumps({"request_type": 4, "context_id": "k",
                              "process": {"amount": 1000, "magstripe_payment_method": 1}}))


async def _connect(ws: Any) -> None:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sale", "params": {
        "tid": "22162152", "currency": "GBP", "amount": 1234}}))


async def _gochip(ws: Any) -> None:
    async def ask(kind: str, data: dict[str, Any], answer: str) -> None:
        await ws.send(json.dumps({"type": kind, "data": data}))
        while json.loads(await ws.recv()).get("type") != answer:
            pass

    await ask("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
    await ask("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "1", "secret": "s"},
              "RES_ON_SETTINGS_RETRIEVED")
    await ask("REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                  "inputMethod": "INSERT"}, "RES_ON_DEVICE_CONNECTED")
    await ws.send(json.dumps({"type": "REQ_PROCESS_SALE", "data": {"amount": "12.50"}}))


async def _valor(ws: Any) -> None:
    await ws.send(json.dumps({"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": "1250"}))


SERVERS: dict[str, tuple[list[str], Callable[[Any], Awaitable[None]]]] = {
    "mpos": (["--port", "0"], _mpos),
    "connect": (["--port", "0"], _connect),
    "gochip": (["--port", "0"], _gochip),
    "valor": (["--port", "0", "--cancel-port", "0"], _valor),
}


async def _start_sale(url: str, start: Callable[[Any], Awaitable[None]], path: Path) -> None:
    import websockets

    async with websockets.connect(url, max_size=None) as ws:
        await asyncio.wait_for(start(ws), SALE_WITHIN)
        deadline = time.monotonic() + SALE_WITHIN
        while MARKER not in path.read_text("utf-8") and time.monotonic() < deadline:
            try:  # keep reading what the server says while the sale runs
                await asyncio.wait_for(ws.recv(), 0.2)
            except TimeoutError:
                pass


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_kill_9_mid_sale_leaves_a_transcript_that_ends_within_one_line(
        tmp_path: Path, server: str) -> None:
    args, start = SERVERS[server]
    path = tmp_path / "server.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", server, *args, "--factor", "0.05",
         "--transcript", str(path), "--link-dir", str(tmp_path), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        url = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline and not url:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            found = URL.search(line)
            url = found.group(0) if found else ""
        assert url, proc.stderr.read() if proc.stderr else ""
        asyncio.run(_start_sale(url, start, path))
        before = path.read_text("utf-8").splitlines()
        assert MARKER in "".join(before), f"{server}: the sale never reached the card read"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    lines = path.read_text("utf-8").splitlines()
    assert len(lines) >= len(before) >= 3
    for line in lines[:-1]:
        json.loads(line)  # every line but perhaps the last is whole
    labels = " ".join(json.loads(x)["label"] for x in lines[:-1])
    assert MARKER in labels
