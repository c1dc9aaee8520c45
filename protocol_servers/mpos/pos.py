"""A POS outside the world: real WebSocket and HTTP clients on the asyncio loop.

What a merchant's point of sale does with the bridge (mpos-bridge.md §2.8, Pagar.me's
example page): list devices, initialize, process, create the transaction with the
card_hash on the merchant backend, finish with its answer, close. When finish says the
card declined a sale the host approved, the POS reverses that transaction on the
merchant backend, as Pagar.me's 2019 example did (§3.3), so nothing stays booked. Used
by the demo and the benchmark; it talks only through sockets, like third-party POS
software.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from protocol_servers.mpos.client import is_unsolicited
from protocol_servers.mpos.codec import CARD_DECLINED
from simulator.ports.http import http_json

__all__ = ["SaleResult", "Step", "WsPos", "http_json", "run_sale"]


@dataclass
class Step:
    name: str
    request: dict[str, Any]
    answer: dict[str, Any]
    wall_s: float


@dataclass
class SaleResult:
    steps: list[Step] = field(default_factory=list)
    unsolicited: list[dict[str, Any]] = field(default_factory=list)
    transaction: dict[str, Any] | None = None
    ok: bool = False
    error: str | None = None
    declined_by_card: bool = False


class WsPos:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.unsolicited: list[dict[str, Any]] = []

    async def request(self, body: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        await self.ws.send(json.dumps(body))
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if is_unsolicited(frame):
                self.unsolicited.append(frame)
                continue
            return frame  # type: ignore[no-any-return]


async def run_sale(
    url: str,
    merchant_url: str,
    amount: int,
    *,
    report: Callable[[Step], None] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    context: str = "demo",
    timeout: float = 60.0,
) -> SaleResult:
    """One sale, end to end, as Pagar.me's example page ran it."""
    result = SaleResult()
    async with websockets.connect(url, ssl=ssl_context, max_size=2**20) as ws:
        pos = WsPos(ws)

        async def step(name: str, body: dict[str, Any]) -> dict[str, Any]:
            t0 = time.perf_counter()
            answer = await pos.request(body, timeout)
            s = Step(name, body, answer, time.perf_counter() - t0)
            result.steps.append(s)
            if report is not None:
                report(s)
            return answer

        listed = await step("list devices", {"request_type": 1, "context_id": context})
        devices = listed.get("device_list") or []
        if not devices:
            result.error = "the bridge lists no device"
            return result
        init = await step(
            "initialize",
            {
                "request_type": 2,
                "context_id": context,
                "initialize": {
                    "device_id": devices[0]["id"],
                    "encryption_key": "ek_test_cardloop",
                    "baud_rate": 115200,
                    "simple_initialize": False,
                    "timeout_milliseconds": 30000,
                },
            },
        )
        if init.get("response_type") not in (2, 3):
            result.error = f"initialize failed: {init.get('error')}"
            return result
        proc = await step(
            "process", {"request_type": 4, "context_id": context, "process": {"amount": amount}}
        )
        finish_body: dict[str, Any]
        if proc.get("response_type") == 4:
            card_hash = proc["process"]["card_hash"]
            t0 = time.perf_counter()
            status, txn = await http_json(
                f"{merchant_url}/1/transactions",
                "POST",
                {"amount": amount, "card_hash": card_hash},
                timeout,
            )
            merchant = Step(
                "merchant: create transaction",
                {"amount": amount, "card_hash": card_hash[:12] + "..."},
                txn if isinstance(txn, dict) else {"status": status},
                time.perf_counter() - t0,
            )
            result.steps.append(merchant)
            if report is not None:
                report(merchant)
            if status == 200 and isinstance(txn, dict):
                result.transaction = txn
                code = txn.get("acquirer_response_code") or "0"
                finish_body = {
                    "success": True,
                    "response_code": int(code) if str(code).isdigit() else 9999,
                    "emv_data": txn.get("card_emv_response"),
                }
            else:
                finish_body = {"success": False, "response_code": 0, "emv_data": None}
        else:
            # finish is mandatory after a failed process too (§2.5 type 5)
            finish_body = {"success": False, "response_code": 0, "emv_data": None}
        fin = await step(
            "finish", {"request_type": 5, "context_id": context, "finish": finish_body}
        )
        txn = result.transaction
        if fin.get("response_type") == 9 and fin.get("error") == CARD_DECLINED:
            result.declined_by_card = True
            result.error = CARD_DECLINED
            if txn is not None and txn.get("status") == "authorized":
                await _reverse(result, merchant_url, txn, report, timeout)
        await step("close", {"request_type": 8, "context_id": context})
        result.unsolicited = pos.unsolicited
        result.ok = (
            proc.get("response_type") == 4
            and not result.declined_by_card
            and result.transaction is not None
            and result.transaction.get("status") == "authorized"
        )
        if not result.ok and result.error is None:
            result.error = proc.get("error") or "transaction not authorized"
    return result


async def _reverse(
    result: SaleResult,
    merchant_url: str,
    txn: dict[str, Any],
    report: Callable[[Step], None] | None,
    timeout: float,
) -> None:
    """Undo the approved sale the card refused; the answer replaces the POS's view."""
    t0 = time.perf_counter()
    status, answer = await http_json(
        f"{merchant_url}/1/transactions/{txn['id']}/reversal", "POST", {}, timeout
    )
    s = Step(
        "merchant: reverse transaction",
        {"id": txn["id"]},
        answer if isinstance(answer, dict) else {"status": status},
        time.perf_counter() - t0,
    )
    result.steps.append(s)
    if report is not None:
        report(s)
    if status == 200 and isinstance(answer, dict):
        result.transaction = answer
    else:
        result.error = f"{CARD_DECLINED}; the reversal failed with HTTP {status}"
