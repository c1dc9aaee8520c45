"""The mpos-bridge in the soak: readers on ptys, one session in so many pays for real."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from typing import TYPE_CHECKING, Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire, adapter
from conformance.soak_adapters.common import kind, request
from conformance.strategies import hostile_message

if TYPE_CHECKING:
    from simulator.world import World


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
        return "ws", hostile_message(rng, rng.choice(self._ENVELOPES), kind(rng))

    def healthy(self) -> tuple[str, str]:
        return "ws", '{"request_type":1,"context_id":"health"}'

    async def session(self, urls: dict[str, str], index: int) -> Session:

        s = Session()
        ctx = f"s{index}"
        wire = await Wire(urls["ws"]).open()

        def answer(m: dict[str, Any]) -> bool:
            return bool(m.get("context_id") == ctx)

        async def ask(body: dict[str, Any]) -> Any:
            return await request(wire, json.dumps(dict(body, context_id=ctx)), answer, s)

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
