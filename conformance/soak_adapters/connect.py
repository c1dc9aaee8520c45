"""Paymentsense Connect in the soak: JSON-RPC 2.0 over the ``/pac`` WebSocket.

Every session lists the terminals; one in ``paying_every`` then runs a sale on a
terminal (taking turns per terminal, as clerks sharing a counter do), answering the
terminal's signature request as a clerk who checked it would. What each POS was told is
the final transaction object's ``transactionId`` and ``amountTotal`` (0 unless
``SUCCESSFUL``); the books are the acquirer's sales under the same idempotency key (the
terminal hands its ``transactionId`` to the acquirer as the key).
"""

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

#: the terminals a soak sale may use: all but the one whose PDQ goes silent (it answers
#: TIMED_OUT only after 200 simulated seconds, a test of its own in the suite), with
#: approvals, declines, a signature and a mute chip among them
_PAYING = (("22162152", "GBP"), ("22162153", "GBP"), ("31162154", "EUR"),
           ("VCMINVLSIP0", "GBP"), ("VCMINVLDIP0", "GBP"), ("VCMINVLSIS0", "GBP"),
           ("VCMINVLUIP0", "GBP"))


def _rpc(rid: Any, method: str, params: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body)


def _is_answer(rid: Any) -> Any:
    def done(m: Any) -> bool:
        return isinstance(m, dict) and m.get("id") == rid and "method" not in m
    return done


@adapter("connect")
class ConnectSoak:
    name = "connect"
    # the terminals' pinpads sit on real ptys: as for mpos, the ABECS link's ACK wait
    # must outlast a loaded machine's pty round trip
    factor = 0.2
    # one session in this many pays: seven terminals cannot run a thousand card sales at
    # once, and the soak is about answers and books
    paying_every = 20

    def __init__(self) -> None:
        self.endpoints: Any = None
        self._turns: dict[str, asyncio.Lock] = {}

    async def start(self, world: World) -> dict[str, str]:
        import tempfile

        from protocol_servers.connect import live

        self.endpoints = await live.start(world, link_dir=tempfile.mkdtemp(
            prefix="cardloop-soak-connect-"))
        return {"pac": self.endpoints.pac_url}

    def booked(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.endpoints.server.acquirer.ledger.entries:
            if entry.kind == "sale":
                out[entry.key] = entry.amount if entry.live else 0
        return out

    _ENVELOPES = (
        lambda v: f'{{"jsonrpc":"2.0","id":{v},"method":"connectedTerminals"}}',
        lambda v: f'{{"jsonrpc":{v},"id":7,"method":"connectedTerminals"}}',
        lambda v: f'{{"jsonrpc":"2.0","id":7,"method":{v}}}',
        lambda v: f'{{"jsonrpc":"2.0","id":7,"method":"terminalDetails","params":{{"tid":{v}}}}}',
        lambda v: ('{"jsonrpc":"2.0","id":7,"method":"sale","params":{"tid":"VCMINVLSIP0",'
                   f'"currency":"GBP","amount":{v}}}}}'),
        lambda v: ('{"jsonrpc":"2.0","id":7,"method":"sale","params":{"tid":"VCMINVLSIP0",'
                   f'"currency":{v},"amount":100}}}}'),
        lambda v: f'{{"jsonrpc":"2.0","id":7,"method":"sale","params":{v}}}',
        lambda v: f'{{"jsonrpc":"2.0","id":7,"method":"cancelTransaction","params":{{"tid":{v}}}}}',
        lambda v: v,
    )

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]:
        return "pac", hostile_message(rng, rng.choice(self._ENVELOPES), kind(rng))

    def healthy(self) -> tuple[str, str]:
        return "pac", _rpc(1, "connectedTerminals")

    async def settle(self, wire: Wire, answer: str | bytes) -> dict[str, int]:
        """A fuzzed sale the terminal took: read on to its final answer."""
        try:
            msg = json.loads(answer)
        except ValueError:
            return {}
        if not (isinstance(msg, dict) and msg.get("method") == "terminalNotification"):
            return self._told(msg)
        while True:
            raw = await wire.recv(ANSWER_TIMEOUT)
            if raw is None:
                return {}
            msg = json.loads(raw)
            if isinstance(msg, dict) and "method" not in msg:
                return self._told(msg)
            if isinstance(msg, dict) and msg.get("method") == "signatureVerificationRequest":
                await wire.send(json.dumps({"jsonrpc": "2.0", "id": msg.get("id"),
                                            "result": {"accepted": True}}))

    @staticmethod
    def _told(msg: Any) -> dict[str, int]:
        tx = msg.get("result") if isinstance(msg, dict) else None
        if not isinstance(tx, dict) or not tx.get("transactionId"):
            return {}
        ok = tx.get("transactionResult") == "SUCCESSFUL"
        return {str(tx["transactionId"]): int(tx.get("amountTotal") or 0) if ok else 0}

    async def session(self, urls: dict[str, str], index: int) -> Session:
        s = Session()
        wire = await Wire(urls["pac"]).open()
        try:
            listed = await request(wire, _rpc(1, "connectedTerminals"), _is_answer(1), s)
            if listed is None:
                s.notes.append(f"session {index}: connectedTerminals")
                return s
            if index % self.paying_every:
                tid, _ = _PAYING[index % len(_PAYING)]
                if await request(wire, _rpc(2, "terminalDetails", {"tid": tid}),
                                 _is_answer(2), s) is None:
                    s.notes.append(f"session {index}: terminalDetails")
                return s
            tid, currency = _PAYING[(index // self.paying_every) % len(_PAYING)]
            async with self._turns.setdefault(tid, asyncio.Lock()):
                await self._sale(wire, s, index, tid, currency)
            return s
        finally:
            await wire.close()

    async def _sale(self, wire: Wire, s: Session, index: int, tid: str, currency: str) -> None:
        amount = 1000 + index % 100
        for attempt in range(400):
            rid = 100 + attempt
            s.requests += 1
            await wire.send(_rpc(rid, "sale", {"tid": tid, "currency": currency,
                                               "amount": amount}))
            final = await self._final(wire, rid)
            if final is None:
                s.unanswered += 1
                s.notes.append(f"session {index}: sale on {tid}")
                return
            error = final.get("error")
            if isinstance(error, dict) and "busy" in str(error.get("message", "")).lower():
                # a fuzzed sale holds the terminal: wait for it, as a clerk would
                await asyncio.sleep(0.3 + (index % 11) * 0.03)
                continue
            s.told.update(self._told(final))
            return

    async def _final(self, wire: Wire, rid: int) -> dict[str, Any] | None:
        """Read notifications (answering a signature request) until ``rid``'s answer."""
        while True:
            try:
                raw = await wire.recv(ANSWER_TIMEOUT)
            except TimeoutError:
                return None
            if raw is None:
                return None
            msg = json.loads(raw)
            if not isinstance(msg, dict):
                continue
            if msg.get("method") == "signatureVerificationRequest":
                await wire.send(json.dumps({"jsonrpc": "2.0", "id": msg.get("id"),
                                            "result": {"accepted": True}}))
            elif msg.get("id") == rid and "method" not in msg:
                return msg
