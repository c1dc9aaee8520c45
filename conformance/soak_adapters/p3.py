"""The PayServer (P3) in the soak: WebSocket and TCP, a login then a MOCK charge per session."""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING, Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire, adapter
from conformance.soak_adapters.common import kind, request
from conformance.strategies import hostile_message

if TYPE_CHECKING:
    from simulator.world import World


# -- P3 --------------------------------------------------------------------------------------

_P3_LOGIN = ('{"type":"LOGIN_MERCHANT_REQUEST","tag":"%s","loginMerchantRequest":'
             '{"providerMode":"MOCK","merchantIdentifier":"m","merchantSecret":"s"}}')


@adapter("p3")
class P3Soak:
    name = "p3"
    factor = 0.02
    devices = 250
    amount = "40.00"  # a plain chip-and-PIN approval on the MOCK reader (no action asked)

    def __init__(self) -> None:
        self.server: Any = None
        # the POS side takes turns per reader, as clerks sharing a counter do; the
        # server's own refusal of a second charge (ACCESSORY_BUSY) stays the backstop
        self._turns: dict[int, asyncio.Lock] = {}

    async def start(self, world: World) -> dict[str, str]:
        from protocol_servers.p3 import live
        from protocol_servers.p3.config import DeviceConfig, ServerConfig
        from protocol_servers.p3.server import PayServer

        devices = tuple(DeviceConfig(f"m{i}", f"Mock {i}") for i in range(self.devices))
        self.server = PayServer(world, ServerConfig(devices=devices))
        ends = await live.start(self.server, "127.0.0.1", 0, 0)
        return {"ws": ends.ws_url, "tcp": ends.tcp_url}

    def booked(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ident, amount in self.server.bookings():
            out[ident] = out.get(ident, 0) + amount
        return out

    _ENVELOPES = (
        lambda v: f'{{"type":"LOGIN_MERCHANT_REQUEST","tag":{v}}}',
        lambda v: f'{{"type":{v},"tag":"t"}}',
        lambda v: f'{{"type":"ABORT_TRANSACTION_REQUEST","tag":"t","resource":{v}}}',
        lambda v: ('{"type":"LOGIN_MERCHANT_REQUEST","tag":"t","loginMerchantRequest":'
                   f'{{"providerMode":"MOCK","merchantIdentifier":{v},"merchantSecret":"s"}}}}'),
        lambda v: ('{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"t","resource":"devices/m0",'
                   '"executeTransactionRequest":{"transactionParameters":{"type":"CHARGE",'
                   f'"currency":"EUR","amount":{v}}}}}}}'),
        lambda v: ('{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"t","resource":"devices/m0",'
                   '"executeTransactionRequest":{"transactionParameters":{"type":"CHARGE",'
                   f'"currency":"EUR","amount":1,"applicationFee":{v}}}}}}}'),
        lambda v: v,
    )

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]:
        envelope = rng.choice(self._ENVELOPES)
        return rng.choice(("ws", "tcp")), hostile_message(rng, envelope, kind(rng))

    def healthy(self) -> tuple[str, str]:
        return "ws", _P3_LOGIN % "health"

    async def settle(self, wire: Wire, answer: str | bytes) -> dict[str, int]:
        try:
            msg = json.loads(answer)
        except ValueError:
            return {}
        if not isinstance(msg, dict) or not str(msg.get("type", "")).startswith(
                "EXECUTE_TRANSACTION_") or msg.get("type") == "EXECUTE_TRANSACTION_RESPONSE":
            return self._told(msg)
        tag = msg.get("tag")
        while True:  # a charge started: read its updates until its final answer
            raw = await wire.recv(ANSWER_TIMEOUT)
            if raw is None:
                return {}
            msg = json.loads(raw)
            if msg.get("tag") == tag and msg.get("type") == "EXECUTE_TRANSACTION_RESPONSE":
                return self._told(msg)

    @staticmethod
    def _told(msg: Any) -> dict[str, int]:
        if not isinstance(msg, dict) or msg.get("status") != "OK":
            return {}
        tx = (msg.get("executeTransactionResponse") or {}).get("transaction") or {}
        if tx.get("status") != "APPROVED" or not tx.get("identifier"):
            return {}
        from decimal import Decimal

        return {tx["identifier"]: int(Decimal(str(tx.get("amount") or 0)) * 100)}

    async def session(self, urls: dict[str, str], index: int) -> Session:
        s = Session()
        wire = await Wire(urls["ws"] if index % 2 == 0 else urls["tcp"]).open()
        try:
            login = await request(wire, _P3_LOGIN % f"l{index}",
                                   lambda m: m.get("tag") == f"l{index}", s)
            if login is None or login.get("status") != "OK":
                return s
            slot = index % self.devices
            turn = self._turns.setdefault(slot, asyncio.Lock())
            async with turn:
                await self._charge(wire, s, index, slot)
            return s
        finally:
            await wire.close()

    async def _charge(self, wire: Wire, s: Session, index: int, slot: int) -> None:
        device = f"devices/m{slot}"
        for attempt in range(400):
            tag = f"x{index}.{attempt}"

            def answered(m: Any, tag: str = tag) -> bool:
                return bool(m.get("tag") == tag and "status" in m)

            final = await request(wire, (
                f'{{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"{tag}","resource":"{device}",'
                '"executeTransactionRequest":{"transactionParameters":{"type":"CHARGE",'
                f'"currency":"EUR","amount":{self.amount}}}}}}}'),
                answered, s)
            if final is None:
                return
            if final["status"] == "ERROR" and final["error"]["type"] == "ACCESSORY_BUSY":
                # another POS is paying on this reader: wait for it, as a clerk would
                await asyncio.sleep(0.3 + (index % 11) * 0.03)
                continue
            s.told.update(self._told(final))
            return
