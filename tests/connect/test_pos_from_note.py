"""A POS written from paymentsense-connect.md alone, over real WebSockets.

It uses the plain ``websockets`` library and nothing of ours: the URL and query of §2.1,
JSON-RPC 2.0 with integer ids (§3), the methods of §4 and the Pay-At-Table requests of §5.
Against ``python -m conformance --serve connect`` it completes a chip-and-PIN sale, a
signature sale it accepts, a cancel, a refund and an X balance on ``/pac``, and a table's
bill paid in two parts on ``/pat`` (the waiter sent through the control API, whose
``waiter_result`` says what the waiter did); the served run grades the POS as passing
and writes no card number in clear under its reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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
CHIP_PIN, SIGNING = "22162152", "22162153"  # terminals.toml: their default customers
PANS = ("4761739001010010", "5413330089010012")


def control(base: str, action: str, **params: Any) -> dict[str, Any]:
    req = urllib.request.Request(f"{base}/scenario/{action}", data=json.dumps(params).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as rsp:
        return dict(json.loads(rsp.read())["applied"])


class Epos:
    """One socket: requests with integer ids, answers matched by id, notifications kept
    per terminal in order, the server's requests answered as a till would."""

    def __init__(self, ws: Any, tables: dict[str, int] | None = None) -> None:
        self.ws = ws
        self.next_id = 0
        self.results: dict[int, dict[str, Any]] = {}
        self.notes: dict[str, list[str]] = {}
        self.asked: list[dict[str, Any]] = []
        self.tables = dict(tables or {})

    async def send(self, method: str, params: dict[str, Any] | None = None) -> int:
        self.next_id += 1
        doc: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            doc["params"] = params
        await self.ws.send(json.dumps(doc))
        return self.next_id

    async def answer(self, rid: int, result: Any) -> None:
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}))

    async def pump(self, until: Any, limit: float = 120) -> None:
        async def loop() -> None:
            while not until():
                await self.handle(json.loads(await self.ws.recv()))

        await asyncio.wait_for(loop(), limit)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        rid = await self.send(method, params)
        await self.pump(lambda: rid in self.results)
        return self.results[rid]

    async def handle(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        if method == "terminalNotification":
            p = msg["params"]
            self.notes.setdefault(p["tid"], []).append(p["notificationValue"])
        elif method is not None and "id" in msg:  # the server asks
            self.asked.append(msg)
            p = msg.get("params", {})
            if method == "signatureVerificationRequest":
                await self.answer(msg["id"], {"accepted": True})
            elif method == "tableListRequest":
                await self.answer(msg["id"], {"tables": [
                    {"tableId": t, "currency": "GBP", "amount": a}
                    for t, a in self.tables.items()]})
            elif method == "tableLockRequest":
                await self.answer(msg["id"], {"confirmed": True, "currency": "GBP",
                                              "amount": self.tables[p["tableId"]]})
            elif method in ("posReceiptRequest", "finalPOSReceiptRequest"):
                await self.answer(msg["id"], {"receiptLines": [
                    {"type": "TEXT", "format": ["BOLD"], "value": f"TABLE {p['tableId']}"}]})
            else:  # transactionResponse, tableUnlock: acknowledged
                await self.answer(msg["id"], {"accepted": True})
        elif "id" in msg:
            self.results[msg["id"]] = msg


async def counter(pac: str, base: str) -> dict[str, Any]:
    async with websockets.connect(pac) as ws:
        pos = Epos(ws)
        out: dict[str, Any] = {}
        listed = await pos.call("connectedTerminals")
        out["terminals"] = listed["result"]
        out["chip"] = (await pos.call("sale", {"tid": CHIP_PIN, "currency": "GBP",
                                               "amount": 1234}))["result"]
        out["chip_notes"] = list(pos.notes[CHIP_PIN])
        out["signed"] = (await pos.call("sale", {"tid": SIGNING, "currency": "GBP",
                                                 "amount": 2000}))["result"]
        # the next customer never presents a card: the till cancels at PRESENT_CARD
        control(base, "card", tid=CHIP_PIN, card="visa-chip-pin", walk_away_at="card")
        pos.notes[CHIP_PIN] = []
        sale = await pos.send("sale", {"tid": CHIP_PIN, "currency": "GBP", "amount": 999})
        await pos.pump(lambda: "PRESENT_CARD" in pos.notes[CHIP_PIN])
        out["cancelling"] = (await pos.call("cancelTransaction", {"tid": CHIP_PIN}))["result"]
        await pos.pump(lambda: sale in pos.results)
        out["cancelled"] = pos.results[sale]["result"]
        control(base, "card", tid=CHIP_PIN, card="visa-chip-pin")
        out["refund"] = (await pos.call("refund", {"tid": CHIP_PIN, "currency": "GBP",
                                                   "amount": 500}))["result"]
        out["x"] = (await pos.call("reportXBalance", {"tid": CHIP_PIN}))["result"]
        out["asked"] = [m["method"] for m in pos.asked]
        return out


async def table(pat: str, base: str) -> dict[str, Any]:
    async with websockets.connect(pat) as ws:
        pos = Epos(ws, tables={"12": 3001})
        started = control(base, "waiter", tid=CHIP_PIN, table="12", parts=2)
        await pos.pump(lambda: any(m["method"] == "tableUnlock" for m in pos.asked))
        report = next(m["params"] for m in pos.asked if m["method"] == "transactionResponse")
        done = control(base, "waiter_result", number=started["number"])
        return {"asked": [m["method"] for m in pos.asked], "report": report, "waiter": done}


def test_a_pos_from_the_note_sells_cancels_refunds_reports_and_splits_a_bill(
        tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "--serve", "connect", "--factor", "0.1",
         "--cardloop-reports", str(reports)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())["urls"]
        base = urls["control"].rstrip("/")
        assert urls["pac"].startswith("ws://127.0.0.1:") and "/pac?token=" in urls["pac"]
        pac = asyncio.run(counter(urls["pac"], base))
        pat = asyncio.run(table(urls["pat"], base))
        urllib.request.urlopen(urllib.request.Request(base + "/shutdown", data=b"{}",
                                                      method="POST"), timeout=10).read()
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert isinstance(pac["terminals"], list) and {t["tid"] for t in pac["terminals"]} \
        >= {CHIP_PIN, SIGNING}
    chip = pac["chip"]
    assert chip["transactionResult"] == "SUCCESSFUL" and chip["authCode"]
    assert chip["cardHolderVerificationMethod"] == "PIN" and chip["paymentMethod"] == "ICC_CHIP"
    assert chip["primaryAccountNumber"] == "************0010"
    assert pac["chip_notes"] == ["TRANSACTION_STARTED", "PRESENT_CARD", "PLEASE_WAIT",
                                 "PIN_ENTRY", "CONNECTING", "CONNECTION_MADE", "APPROVED",
                                 "REMOVE_CARD", "TRANSACTION_FINISHED"]
    signed = pac["signed"]
    assert signed["transactionResult"] == "SUCCESSFUL"
    assert signed["cardHolderVerificationMethod"] == "SIGNATURE"
    assert "signatureVerificationRequest" in pac["asked"]
    assert pac["cancelling"] == {"cancelling": True}
    assert pac["cancelled"]["transactionResult"] == "CANCELLED"
    assert pac["refund"]["transactionResult"] == "SUCCESSFUL"
    assert pac["refund"]["transactionType"] == "REFUND"
    x = pac["x"]
    assert x["reportType"] == "X_BALANCE" and x["reportResult"] == "COMPLETE"
    balances = x["balances"]
    assert (balances["totalSalesCount"], balances["totalSalesAmount"]) == (1, 1234)
    assert (balances["totalRefundsCount"], balances["totalRefundsAmount"]) == (1, 500)

    assert pat["asked"] == ["tableListRequest", "tableLockRequest", "posReceiptRequest",
                            "transactionResponse", "tableUnlock"]
    report = pat["report"]
    assert report["tableId"] == "12" and report["amountTotal"] == 3001
    assert [p["amountPaid"] for p in report["payments"]] == [1501, 1500]
    waiter = pat["waiter"]
    assert waiter["finished"] and waiter["table"] == "12" and waiter["splits"] == [1501, 1500]
    assert [p["transactionResult"] for p in waiter["payments"]] == ["SUCCESSFUL"] * 2

    assert code == 0, "the served run graded this POS as failing"
    grades = {g["id"]: g["verdict"]
              for g in json.loads((reports / "serve.json").read_text())["grades"]}
    assert grades["connect/5/101"] == "pass" and grades["connect/4.7/101"] == "pass"
    everything = "".join(p.read_text(errors="replace") for p in reports.rglob("*")
                         if p.is_file())
    assert everything and not any(pan in everything for pan in PANS)
