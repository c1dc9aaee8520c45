"""``python -m conformance --serve gochip`` writes the agent's grades of the POS into the
reports when the run ends (POST /shutdown or Ctrl-C): a POS that sets up in order and
looks a sale up after a communication error passes; one that sells before init and sells
again blindly fails (both over a real WebSocket, written with the plain ``websockets``
library)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

ROOT = Path(__file__).resolve().parents[2]
FINALS = {"RES_ON_SALE_RESPONSE", "RES_ON_TRANSACTION_COMM_ERROR", "RES_ON_DEVICE_ERROR",
          "RES_ON_ERROR", "RES_ON_WS_ERROR"}
COMM_ERROR_AMOUNT = "45.67"  # the shared acquirer gives no answer (rules.toml)


async def _send(ws: Any, kind: str, data: dict[str, Any]) -> None:
    await ws.send(json.dumps({"type": kind, "data": data}))


async def _until(ws: Any, kinds: set[str], limit: float = 60) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") in kinds:
                return msg  # type: ignore[no-any-return]

    return await asyncio.wait_for(loop(), limit)


async def _setup(ws: Any) -> None:
    await _send(ws, "REQ_WS_INIT", {"mode": "TEST"})
    await _until(ws, {"RES_ON_WS_INIT"})
    await _send(ws, "REQ_INIT_WITH_CONFIGURATION", {"terminalId": "2997001",
                                                    "secret": "test-secret"})
    await _until(ws, {"RES_ON_SETTINGS_RETRIEVED"})
    await _send(ws, "REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                        "inputMethod": "SWIPE_OR_INSERT_OR_TAP"})
    await _until(ws, {"RES_ON_DEVICE_CONNECTED"})


async def careful(url: str) -> None:
    async with websockets.connect(url) as ws:
        await _until(ws, {"RES_ON_WS_INIT_REQUIRED"})
        await _setup(ws)
        await _send(ws, "REQ_PROCESS_SALE", {"amount": COMM_ERROR_AMOUNT})
        final = await _until(ws, FINALS)
        assert final["type"] == "RES_ON_TRANSACTION_COMM_ERROR", final
        await _send(ws, "REQ_GET_TRANSACTIONS", {})  # §B.6: look it up first
        await _until(ws, {"RES_ON_TRANSACTION_LIST_RESPONSE"})
        await _send(ws, "REQ_PROCESS_SALE", {"amount": "5.00"})
        await _until(ws, FINALS)


async def careless(url: str) -> None:
    async with websockets.connect(url) as ws:
        await _until(ws, {"RES_ON_WS_INIT_REQUIRED"})
        await _send(ws, "REQ_PROCESS_SALE", {"amount": "5.00"})  # before anything
        await _until(ws, {"RES_ON_WS_ERROR", "RES_ON_ERROR"})
        await _setup(ws)
        await _send(ws, "REQ_PROCESS_SALE", {"amount": COMM_ERROR_AMOUNT})
        await _until(ws, FINALS)
        await _send(ws, "REQ_PROCESS_SALE", {"amount": "5.00"})  # sells again blindly
        await _until(ws, FINALS)


def _post(url: str) -> None:
    req = urllib.request.Request(url, data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as rsp:
        rsp.read()


def _serve(tmp_path: Path, script: Any, ctrl_c: bool = False
           ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Serve, run ``script`` as the POS, end with POST /shutdown (or Ctrl-C)."""
    reports = tmp_path / "reports"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "--serve", "gochip", "--factor", "0.5",
         "--cardloop-reports", str(reports)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())["urls"]
        asyncio.run(script(urls["gochip"]))
        if ctrl_c:
            proc.send_signal(signal.SIGINT)
        else:
            _post(urls["control"] + "/shutdown")
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    grades = json.loads((reports / "serve.json").read_text())["grades"]
    summary = json.loads((reports / "summary.json").read_text())
    return code, {g["id"]: g["verdict"] for g in grades}, summary


def test_the_agent_grades_reach_the_reports(tmp_path: Path) -> None:
    code, good, summary = _serve(tmp_path / "good", careful)
    assert good == {"gochip/B.4/101": "pass", "gochip/B.4/102": "not seen",
                    "gochip/B.5/101": "not seen", "gochip/B.6/101": "pass"}
    assert code == 0 and summary["passed"] is True

    code, bad, summary = _serve(tmp_path / "bad", careless, ctrl_c=True)
    assert bad["gochip/B.4/101"] == "fail" and bad["gochip/B.6/101"] == "fail"
    assert code == 1 and summary["passed"] is False
    assert {c["id"]: c["verdict"] for c in summary["cases"]}["gochip/B.4/101"] == "fail"
