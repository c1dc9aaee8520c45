"""``python -m conformance --serve connect`` grades the EPoS under test.

Two scripted EPoS written against the note with the plain ``websockets`` library (no
code of ours on the POS side) drive the served reference over a real WebSocket: one
keeps the rules, one breaks them. The grades in ``serve.json``, ``summary.json`` and
``junit.xml`` differ as they should, and a broken rule fails the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import websockets

pytestmark = [
    pytest.mark.realtime,
    pytest.mark.skipif(shutil.which("socat") is None, reason="socat makes the pty pairs"),
]

ROOT = Path(__file__).resolve().parents[2]
SIGNING = "22162153"  # its default customer signs (terminals.toml)


class Pos:
    """A bare EPoS: sends what it is told, answers the server's requests by a policy."""

    def __init__(self, ws: Any, signature_answer: Any) -> None:
        self.ws = ws
        self.signature_answer = signature_answer
        self.results: dict[Any, dict[str, Any]] = {}
        self.asked: list[str] = []

    async def send(self, doc: Any) -> None:
        await self.ws.send(doc if isinstance(doc, str) else json.dumps(doc))

    async def until_answer(self, rid: Any, limit: float = 60) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while rid not in self.results:
                msg = json.loads(await self.ws.recv())
                if "method" in msg and "id" in msg:  # the server asks
                    self.asked.append(msg["method"])
                    if msg["method"] == "signatureVerificationRequest":
                        await self.send({"jsonrpc": "2.0", "id": msg["id"],
                                         "result": self.signature_answer})
                elif "id" in msg:
                    self.results[msg["id"]] = msg
            return self.results[rid]

        return await asyncio.wait_for(loop(), limit)


async def keeps_the_rules(pac: str) -> dict[str, Any]:
    async with websockets.connect(pac) as ws:
        pos = Pos(ws, {"accepted": True})
        await pos.send({"jsonrpc": "2.0", "id": 1, "method": "connectedTerminals",
                        "params": {}})
        await pos.until_answer(1)
        await pos.send({"jsonrpc": "2.0", "id": 2, "method": "sale",
                        "params": {"tid": SIGNING, "currency": "GBP", "amount": 1234}})
        # while it runs the careful EPoS only looks at the terminal (§7)
        await pos.send({"jsonrpc": "2.0", "id": 3, "method": "terminalDetails",
                        "params": {"tid": SIGNING}})
        sale = await pos.until_answer(2)
        assert pos.results[3]["result"]["status"] == "BUSY"
        assert "signatureVerificationRequest" in pos.asked
        return sale


async def breaks_the_rules(pac: str) -> dict[str, Any]:
    async with websockets.connect(pac) as ws:
        pos = Pos(ws, {"ok": "yes"})  # not {"accepted": bool}
        await pos.send({"id": 1, "method": "connectedTerminals", "params": {}})  # no jsonrpc
        await pos.send({"jsonrpc": "2.0", "id": "two", "method": "connectedTerminals",
                        "params": {}})  # a string id
        await pos.send({"jsonrpc": "2.0", "id": 3, "method": "terminalStatus",
                        "params": {}})  # no such method
        await pos.send({"jsonrpc": "2.0", "id": 4, "method": "sale",
                        "params": {"tid": SIGNING, "currency": "GBP", "amount": 1234}})
        await pos.send({"jsonrpc": "2.0", "id": 5, "method": "sale",  # on a busy terminal
                        "params": {"tid": SIGNING, "currency": "GBP", "amount": 99}})
        await pos.send({"jsonrpc": "2.0", "id": 777, "result": {}})  # answers nothing asked
        return await pos.until_answer(4)


def _post(url: str) -> None:
    req = urllib.request.Request(url, data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as rsp:
        rsp.read()


def _serve(tmp_path: Path, script: Any) -> tuple[int, dict[str, Any], Path, dict[str, Any]]:
    reports = tmp_path / "reports"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "--serve", "connect", "--factor", "0.5",
         "--cardloop-reports", str(reports)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        urls = info["urls"]
        sale = asyncio.run(script(urls["pac"]))
        _post(urls["control"] + "/shutdown")
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    grades = {g["id"]: g for g in json.loads((reports / "serve.json").read_text())["grades"]}
    return code, grades, reports, sale


def test_a_careful_epos_passes_and_a_careless_one_fails(tmp_path: Path) -> None:
    code, good, reports, sale = _serve(tmp_path / "good", keeps_the_rules)
    assert sale["result"]["transactionResult"] == "SUCCESSFUL"
    assert code == 0
    verdicts = {k: g["verdict"] for k, g in good.items()}
    assert verdicts == {"connect/3/101": "pass", "connect/3/102": "pass",
                        "connect/4.3/101": "pass", "connect/4.7/101": "pass",
                        "connect/5/101": "not seen", "connect/7/101": "pass"}
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] is True
    assert {c["id"]: c["verdict"] for c in summary["cases"]}["connect/5/101"] == "informational"
    assert (reports / "matrix.html").is_file()

    code, bad, reports, _ = _serve(tmp_path / "bad", breaks_the_rules)
    assert code == 1
    verdicts = {k: g["verdict"] for k, g in bad.items()}
    assert verdicts == {"connect/3/101": "fail", "connect/3/102": "fail",
                        "connect/4.3/101": "fail", "connect/4.7/101": "fail",
                        "connect/5/101": "not seen", "connect/7/101": "fail"}
    assert "terminalStatus" in bad["connect/4.3/101"]["seen"]
    assert f"sale while terminal {SIGNING} was busy" in bad["connect/7/101"]["seen"]
    assert "777" in bad["connect/3/102"]["seen"]
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] is False
    junit = ET.parse(reports / "junit.xml").getroot()
    failed = {c.get("name", "").split()[0] for c in junit.iter("testcase")
              if c.find("failure") is not None}
    assert failed == {"connect/3/101", "connect/3/102", "connect/4.3/101", "connect/4.7/101",
                      "connect/7/101"}
