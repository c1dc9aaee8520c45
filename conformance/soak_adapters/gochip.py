"""GoChip Websockets in the soak: ``{"type","data"}`` frames on ``/middleware``.

The agent speaks first (``RES_ON_WS_INIT_REQUIRED``), so every connection reads that
greeting before it sends. Every session initialises and retrieves its settings; one in
``paying_every`` then takes a reader (taking turns per reader, as clerks sharing a
counter do), sells and lets the reader go. What each POS was told is the sale's
``uniqueRef`` and ``authorizedAmount`` when ``code`` is ``A`` (0 otherwise); the books
are the agent's records against the acquirer's ledger.
"""

from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire, adapter
from conformance.soak_adapters.common import kind, request
from conformance.strategies import hostile_message

if TYPE_CHECKING:
    from simulator.world import World

_ERRORS = ("RES_ON_ERROR", "RES_ON_WS_ERROR", "RES_ON_DEVICE_ERROR")
_FINALS = ("RES_ON_SALE_RESPONSE", "RES_ON_REFUND_RESPONSE", "RES_ON_TRANSACTION_COMM_ERROR",
           "RES_ON_DEVICE_ERROR", "RES_ON_ERROR", "RES_ON_WS_ERROR")
_SIGNATURE = [{"x": 10, "y": 10}, {"x": 40, "y": 22}, {"x": 80, "y": 12}]


def _frame(kind_: str, data: dict[str, Any] | None = None) -> str:
    return json.dumps({"type": kind_, "data": data if data is not None else {}})


def _answer_to(*kinds: str) -> Any:
    wanted = set(kinds) | set(_ERRORS)

    def done(m: Any) -> bool:
        return isinstance(m, dict) and m.get("type") in wanted
    return done


def _minor(value: Any) -> int:
    return int(Decimal(str(value)) * 100)


@adapter("gochip")
class GoChipSoak:
    name = "gochip"
    # the readers are virtual pinpads on real ptys: as for mpos, the ABECS link's ACK
    # wait must outlast a loaded machine's pty round trip
    factor = 0.2
    readers = 4
    # one session in this many sells: four readers cannot run a thousand card sales at
    # once, and the soak is about answers and books
    paying_every = 25

    def __init__(self) -> None:
        self.agent: Any = None
        self._turns: dict[str, asyncio.Lock] = {}

    async def start(self, world: World) -> dict[str, str]:
        import tempfile

        from protocol_servers.gochip import live
        from protocol_servers.gochip.agent import Agent, AgentConfig

        names = tuple(f"reader{i}" for i in range(self.readers))
        self.agent = Agent(world, AgentConfig(readers=names))
        live.attach_readers(self.agent, tempfile.mkdtemp(prefix="cardloop-soak-gochip-"))
        ws = await live.start(self.agent, "127.0.0.1", 0)
        return {"ws": str(ws.url)}

    def booked(self) -> dict[str, int]:
        out: dict[str, int] = {rec.unique_ref: 0 for rec in self.agent.records.items.values()}
        for ref, amount in self.agent.bookings():
            out[ref] = out.get(ref, 0) + amount
        return out

    _ENVELOPES = (
        lambda v: f'{{"type":{v},"data":{{}}}}',
        lambda v: f'{{"type":"REQ_WS_INIT","data":{v}}}',
        lambda v: f'{{"type":"REQ_WS_INIT","data":{{"mode":{v},"logLevel":"LEVEL_FULL"}}}}',
        lambda v: ('{"type":"REQ_INIT_WITH_CONFIGURATION","data":{"terminalId":'
                   f'{v},"secret":"s"}}}}'),
        lambda v: f'{{"type":"REQ_PROCESS_SALE","data":{{"amount":{v}}}}}',
        lambda v: f'{{"type":"REQ_PROCESS_SALE","data":{{"amount":"1.00","orderId":{v}}}}}',
        lambda v: f'{{"type":"REQ_SET_DELAYED_AUTH_ENABLED","data":{{"enabled":true,'
                  f'"initialAmount":{v}}}}}',
        lambda v: f'{{"type":"REQ_GET_TRANSACTIONS","data":{{"uniqueRef":{v}}}}}',
        lambda v: v,
    )

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]:
        return "ws", hostile_message(rng, rng.choice(self._ENVELOPES), kind(rng))

    async def opened(self, wire: Wire) -> None:
        """Read the agent's greeting (it speaks first, §B.4 step 1)."""
        if await wire.recv(ANSWER_TIMEOUT) is None:
            raise OSError("the agent closed before its greeting")

    def healthy(self) -> tuple[str, str]:
        return "ws", _frame("REQ_WS_INIT", {"mode": "TEST", "logLevel": "LEVEL_FULL"})

    async def session(self, urls: dict[str, str], index: int) -> Session:
        s = Session()
        wire = await Wire(urls["ws"]).open()
        try:
            greeting = await wire.recv(ANSWER_TIMEOUT)
            s.requests += 1
            if greeting is None:
                s.unanswered += 1
                s.notes.append(f"session {index}: no greeting")
                return s

            async def ask(kind_: str, data: dict[str, Any] | None, *answers: str) -> Any:
                got = await request(wire, _frame(kind_, data), _answer_to(*answers), s)
                if got is None:
                    s.notes.append(f"session {index}: {kind_}")
                return got

            if await ask("REQ_WS_INIT", {"mode": "TEST", "logLevel": "LEVEL_FULL"},
                         "RES_ON_WS_INIT") is None:
                return s
            got = await ask("REQ_INIT_WITH_CONFIGURATION",
                            {"terminalId": "2997001", "secret": "test-secret"},
                            "RES_ON_SETTINGS_RETRIEVED")
            if got is None or got.get("type") != "RES_ON_SETTINGS_RETRIEVED":
                return s
            if index % self.paying_every:
                await ask("REQ_LIST_SUPPORTED_DEVICES", None,
                          "RES_ON_SUPPORTED_DEVICES_RETRIEVED")
                await ask("REQ_GET_POLLING_ENABLED", None, "RES_ON_POLLING_ENABLED")
                return s
            port = f"reader{(index // self.paying_every) % self.readers}"
            async with self._turns.setdefault(port, asyncio.Lock()):
                await self._sell(wire, s, index, port, ask)
            return s
        finally:
            await wire.close()

    async def _sell(self, wire: Wire, s: Session, index: int, port: str, ask: Any) -> None:
        got = await ask("REQ_INIT_DEVICE", {
            "device": "IDTECH", "connectionType": "USB", "portName": port,
            "inputMethod": "SWIPE_OR_INSERT_OR_TAP", "emvType": "STANDARD"},
            "RES_ON_DEVICE_CONNECTED")
        if got is None or got.get("type") != "RES_ON_DEVICE_CONNECTED":
            return
        amount = f"{10 + index % 50}.{index % 100:02d}"
        s.requests += 1
        await wire.send(_frame("REQ_PROCESS_SALE", {"amount": amount}))
        final = await self._final(wire)
        if final is None:
            s.unanswered += 1
            s.notes.append(f"session {index}: REQ_PROCESS_SALE on {port}")
            return
        s.told.update(self._told(final))
        await ask("REQ_DISCONNECT_DEVICE", None, "RES_ON_DEVICE_DISCONNECTED")

    async def _final(self, wire: Wire) -> dict[str, Any] | None:
        """Read prompts (answering them as a clerk would) until the sale's final frame."""
        while True:
            try:
                raw = await wire.recv(ANSWER_TIMEOUT)
            except TimeoutError:
                return None
            if raw is None:
                return None
            msg = json.loads(raw, parse_float=Decimal)
            kind_ = msg.get("type") if isinstance(msg, dict) else None
            if kind_ == "RES_ON_SELECT_APPLICATION":
                await wire.send(_frame("REQ_SUBMIT_APPLICATION", {"index": 0}))
            elif kind_ == "RES_ON_SIGNATURE_REQUIRED":
                await wire.send(_frame("REQ_SUBMIT_SIGNATURE", {"signatureData": _SIGNATURE}))
            elif kind_ in _FINALS:
                return msg  # type: ignore[no-any-return]

    @staticmethod
    def _told(msg: dict[str, Any]) -> dict[str, int]:
        body = (msg.get("data") or {}).get("saleResponse")
        if not isinstance(body, dict) or not body.get("uniqueRef"):
            return {}
        ok = body.get("code") == "A"
        return {str(body["uniqueRef"]): _minor(body.get("authorizedAmount") or 0) if ok else 0}
