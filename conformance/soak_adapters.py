"""Soak adapters of the two servers we have: the mpos-bridge and the PayServer (P3).

See :mod:`conformance.soak` for the interface. Each adapter starts its server in the
soak's child world, wraps hostile values in its protocol's envelopes, and plays POS
sessions that move money, so the child's books can be checked against what the POS
sessions were told.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from typing import TYPE_CHECKING, Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire, adapter
from conformance.strategies import HOSTILE_CLASSES, hostile_message

if TYPE_CHECKING:
    from simulator.world import World

# Oversize frames cost a mebibyte each on the loopback; one input in a hundred is plenty
# to prove the limit answers, and keeps the soak's 10,000 inputs quick.
_WEIGHTS = {k: (1 if k == "oversize" else 14) for k in HOSTILE_CLASSES}


def _kind(rng: random.Random) -> str:
    return rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()))[0]


async def _request(wire: Wire, text: str, done: Any, session: Session) -> Any:
    """Send, then read until ``done(message)`` says the answer came; None if none did."""
    session.requests += 1
    await wire.send(text)
    while True:
        try:
            raw = await wire.recv(ANSWER_TIMEOUT)
        except TimeoutError:
            session.unanswered += 1
            return None
        if raw is None:
            session.unanswered += 1
            return None
        msg = json.loads(raw)
        if done(msg):
            return msg


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
        return rng.choice(("ws", "tcp")), hostile_message(rng, envelope, _kind(rng))

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
            login = await _request(wire, _P3_LOGIN % f"l{index}",
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
            final = await _request(wire, (
                f'{{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"{tag}","resource":"{device}",'
                '"executeTransactionRequest":{"transactionParameters":{"type":"CHARGE",'
                f'"currency":"EUR","amount":{self.amount}}}}}}}'),
                lambda m, tag=tag: m.get("tag") == tag and "status" in m, s)
            if final is None:
                return
            if final["status"] == "ERROR" and final["error"]["type"] == "ACCESSORY_BUSY":
                # another POS is paying on this reader: wait for it, as a clerk would
                await asyncio.sleep(0.3 + (index % 11) * 0.03)
                continue
            s.told.update(self._told(final))
            return


# -- mpos ------------------------------------------------------------------------------------

@adapter("mpos")
class MposSoak:
    name = "mpos"
    # the pinpads sit on real ptys: the ABECS link's 2 s ACK wait must stay longer than a
    # loaded machine's pty round trip, so this world runs at a fifth of real time
    factor = 0.2
    readers = 4

    # One session in this many pays (taking turns per reader, as clerks sharing a counter
    # do); the others list devices, ask status and close. Four readers on ptys cannot run
    # a thousand card sales at once, and the soak is about answers and books.
    paying_every = 25

    def __init__(self) -> None:
        self.running: Any = None
        self._turns: dict[str, asyncio.Lock] = {}

    async def start(self, world: World) -> dict[str, str]:
        from protocol_servers.mpos.cards import card_from_name
        from protocol_servers.mpos.runtime import start_bridge

        self.running = await start_bridge(
            world, readers=self.readers, merchant_port=0,
            link_dir=tempfile.mkdtemp(prefix="cardloop-soak-"),
            cards=lambda i: [card_from_name(world, "visa-chip-pin")])

        def dealer():  # type: ignore[no-untyped-def]
            # the next customer is always in line: each reader gets a card when its
            # queue runs dry, so every session that gets a reader can pay
            while True:
                yield world.timeout(1.0)
                for reader in self.running.lab.readers:
                    if not reader.pinpad.cards:
                        reader.pinpad.queue_card(card_from_name(world, "visa-chip-pin"))

        world.process(dealer())
        return {"ws": self.running.url, "merchant": self.running.merchant_url or ""}

    def booked(self) -> dict[str, int]:
        backend = self.running.lab.backend
        out: dict[str, int] = {}
        for txn in backend.ledger:
            entry = backend.host.ledger.get(txn.reference) if txn.reference else None
            out[str(txn.id)] = entry.amount if entry is not None and entry.live else 0
        return out

    _ENVELOPES = (
        lambda v: f'{{"request_type":{v},"context_id":"fz"}}',
        lambda v: f'{{"request_type":7,"context_id":{v}}}',
        lambda v: f'{{"request_type":4,"context_id":"fz","process":{{"amount":{v}}}}}',
        lambda v: f'{{"request_type":5,"context_id":"fz","finish":{{"response_code":{v}}}}}',
        lambda v: f'{{"request_type":6,"context_id":"fz","display_message":{{"message":{v}}}}}',
        lambda v: f'{{"request_type":1,"context_id":"fz","extra":{v}}}',
        lambda v: v,
    )

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]:
        return "ws", hostile_message(rng, rng.choice(self._ENVELOPES), _kind(rng))

    def healthy(self) -> tuple[str, str]:
        return "ws", '{"request_type":1,"context_id":"health"}'

    async def session(self, urls: dict[str, str], index: int) -> Session:

        s = Session()
        ctx = f"s{index}"
        wire = await Wire(urls["ws"]).open()

        def answer(m: dict[str, Any]) -> bool:
            return bool(m.get("context_id") == ctx)

        async def ask(body: dict[str, Any]) -> Any:
            return await _request(wire, json.dumps(dict(body, context_id=ctx)), answer, s)

        try:
            listed = await ask({"request_type": 1})
            devices = (listed or {}).get("device_list") or []
            if not devices:
                return s
            device = devices[(index // self.paying_every) % len(devices)]["id"]
            if index % self.paying_every:
                await ask({"request_type": 7})
                await ask({"request_type": 8})
                return s
            async with self._turns.setdefault(device, asyncio.Lock()):
                await self._pay(ask, s, urls, index, device)
            return s
        finally:
            await wire.close()

    async def _pay(self, ask: Any, s: Session, urls: dict[str, str], index: int,
                   device: str) -> None:
        from protocol_servers.mpos.pos import http_json

        init = await ask({"request_type": 2, "initialize": {
            "device_id": device, "encryption_key": "ek_test_cardloop", "baud_rate": 115200,
            "simple_initialize": True, "timeout_milliseconds": 10_000}})
        if init is None:
            return
        if init.get("response_type") == 2:
            amount = 1000 + index % 100
            proc = await ask({"request_type": 4, "process": {"amount": amount}})
            finish = {"success": False, "response_code": 0, "emv_data": None}
            txn: dict[str, Any] | None = None
            if proc is not None and proc.get("response_type") == 4:
                status, got = await http_json(
                    f"{urls['merchant']}/1/transactions", "POST",
                    {"amount": amount, "card_hash": proc["process"]["card_hash"]},
                    ANSWER_TIMEOUT)
                if status == 200 and isinstance(got, dict):
                    txn = got
                    code = str(got.get("acquirer_response_code") or "0")
                    finish = {"success": True,
                              "response_code": int(code) if code.isdigit() else 9999,
                              "emv_data": got.get("card_emv_response")}
            if proc is not None:
                fin = await ask({"request_type": 5, "finish": finish})
                if txn is not None and txn.get("status") == "authorized":
                    if fin is not None and fin.get("response_type") == 5:
                        s.told[str(txn["id"])] = amount
                    else:
                        # the card refused or the answer never came: the POS undoes
                        # the sale with its back end, as a real one must
                        await http_json(f"{urls['merchant']}/1/transactions/"
                                        f"{txn['id']}/reversal", "POST", {}, ANSWER_TIMEOUT)
                        s.told[str(txn["id"])] = 0
                elif txn is not None:
                    s.told[str(txn["id"])] = 0
        await ask({"request_type": 8})
