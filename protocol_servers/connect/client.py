"""An EPoS written from the note alone: what the tests, the suite and the bench drive.

It speaks JSON-RPC 2.0 over any message end (in-memory or a real WebSocket), sends
integer ids, collects ``terminalNotification``s in order, answers the server's
``signatureVerificationRequest`` as its policy says (accept, decline, or not at all)
and the Pay-At-Table requests from a table book. ``pos_view`` is what the EPoS was
told, in the shape the acquirer ledger checks (``Ledger.check``).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from protocol_servers.connect import jsonrpc as rpc

if TYPE_CHECKING:
    from simulator.streams import MessageEnd
    from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]


@dataclass
class Table:
    table_id: str
    amount: int
    currency: str = "GBP"
    locked: bool = False
    paid: int = 0


@dataclass
class ConnectClient:
    world: World
    end: MessageEnd
    version: str = "v1"
    signature: str = "accept"  # accept | decline | ignore
    tables: dict[str, Table] = field(default_factory=dict)
    refuse_lock: bool = False
    lock_delay: float = 0.0
    endpoint: rpc.Endpoint = field(default_factory=lambda: rpc.Endpoint(max_id=999999))
    received: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # each message as it came (a batch whole)
    notifications: list[tuple[str, str]] = field(default_factory=list)
    server_requests: list[dict[str, Any]] = field(default_factory=list)
    pos_view: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self._waiting: dict[Any, simpy.Event] = {}
        self._seen: dict[Any, rpc.Response] = {}
        # ("notification", (tid, value)) and ("result", tid of a final transaction answer)
        self.events: list[tuple[str, Any]] = []
        self.world.process(self._read())

    # -- sending -----------------------------------------------------------------------
    def _flush(self) -> None:
        for text in self.endpoint.data_to_send():
            self.end.send(text)

    def send_raw(self, text: str | bytes) -> None:
        self.end.send(text)

    def request(self, method: str, params: Any = None) -> Any:
        rid = self.endpoint.request(method, params)
        self._flush()
        return rid

    def wait(self, rid: Any, limit: float | None = None) -> Gen:
        """The Response to our request ``rid`` (None if the socket closed or time ran out)."""
        if rid in self._seen:
            return self._seen.pop(rid)
        ev = self._waiting.setdefault(rid, self.world.event())
        if limit is None:
            yield ev
        else:
            yield self.world.any_of([ev, self.world.timeout(limit)])
        self._waiting.pop(rid, None)
        return self._seen.pop(rid, None) if ev.triggered else None

    def call(self, method: str, params: Any = None, limit: float | None = None) -> Gen:
        rid = self.request(method, params)
        return (yield from self.wait(rid, limit))

    def next_message(self, limit: float = 5.0) -> Gen:
        """Wait for the next message of any kind (None after ``limit`` s)."""
        count = len(self.received)
        while len(self.received) == count and not self.closed:
            ev = self.world.event()
            self._tick = ev
            yield self.world.any_of([ev, self.world.timeout(limit)])
            if not ev.triggered:
                return None
        return self.received[count] if len(self.received) > count else None

    def tid_key(self) -> str:
        return "tid" if self.version == "v1" else "tpi"

    def transaction(self, method: str, tid: str, amount: int, currency: str = "GBP",
                    **extra: Any) -> Gen:
        """One transaction to its final answer; records what the EPoS was told."""
        params = {self.tid_key(): tid, "currency": currency, "amount": amount, **extra}
        response = yield from self.call(method, params)
        if response is not None and response.error is None and isinstance(response.result, dict):
            tx = response.result
            self.remember(tx)
        return response

    def remember(self, tx: dict[str, Any]) -> None:
        ok = tx.get("transactionResult") == "SUCCESSFUL"
        key = tx.get("transactionId")
        if key:
            if not any(v["key"] == key for v in self.pos_view):
                self.pos_view.append({"key": key, "approved": ok,
                                      **({"amount": tx.get("amountTotal")} if ok else {})})

    # -- receiving ---------------------------------------------------------------------
    def _read(self) -> Gen:
        while True:
            message = yield self.end.recv()
            if message is None:
                self.closed = True
                for ev in self._waiting.values():
                    if not ev.triggered:
                        ev.succeed(None)
                self._wake()
                return
            self.texts.append(message if isinstance(message, str)
                              else bytes(message).decode("utf-8", "replace"))
            try:
                doc = json.loads(message)
            except ValueError:
                doc = {"unparsed": str(message)}
            for item in doc if isinstance(doc, list) else [doc]:
                self.received.append(item)
            for event in self.endpoint.receive(message):
                self._handle(event)
            self._flush()
            self._wake()

    def _wake(self) -> None:
        tick = getattr(self, "_tick", None)
        if tick is not None and not tick.triggered:
            tick.succeed()

    def _handle(self, event: rpc.Event) -> None:
        if isinstance(event, rpc.Response):
            res = event.result if isinstance(event.result, dict) else {}
            final_for = (res.get("tid") or res.get("tpi")) if "transactionResult" in res else None
            self.events.append(("result", final_for))
            self._seen[event.id] = event
            ev = self._waiting.get(event.id)
            if ev is not None and not ev.triggered:
                ev.succeed(event)
        elif isinstance(event, rpc.Notification):
            if event.method == "terminalNotification" and isinstance(event.params, dict):
                value = str(event.params.get("notificationValue"))
                tid = str(event.params.get("tid") or event.params.get("tpi"))
                self.notifications.append((tid, value))
                self.events.append(("notification", (tid, value)))
        elif isinstance(event, rpc.Request):
            self.server_requests.append({"id": event.id, "method": event.method,
                                         "params": event.params})
            self._answer(event)

    def _answer(self, req: rpc.Request) -> None:
        p = req.params if isinstance(req.params, dict) else {}
        if req.method == "signatureVerificationRequest":
            if self.signature != "ignore":
                self.endpoint.result(req, {"accepted": self.signature == "accept"})
            return
        if req.method == "tableListRequest":
            self.endpoint.result(req, {"tables": [
                {"tableId": t.table_id, "currency": t.currency, "amount": t.amount - t.paid}
                for t in self.tables.values() if t.amount > t.paid]})
        elif req.method == "tableLockRequest":
            table = self.tables.get(str(p.get("tableId")))
            if self.lock_delay:
                self.world.process(self._late_lock(req, table))
                return
            self.endpoint.result(req, self._lock(table))
        elif req.method in ("posReceiptRequest", "finalPOSReceiptRequest"):
            table = self.tables.get(str(p.get("tableId")))
            amount = table.amount if table else 0
            self.endpoint.result(req, {"receiptLines": [
                {"type": "TEXT", "format": ["BOLD"], "value": f"TABLE {p.get('tableId')}"},
                {"type": "TEXT", "format": [], "value": f"TOTAL {amount}"}]})
        elif req.method == "transactionResponse":
            table = self.tables.get(str(p.get("tableId")))
            for pay in p.get("payments", []):
                ok = pay.get("transactionResult") == "SUCCESSFUL"
                self.pos_view.append({"key": pay.get("paymentId"), "approved": ok,
                                      **({"amount": pay.get("amountPaid")} if ok else {})})
                if ok and table is not None:
                    table.paid += int(pay.get("amountPaid", 0))
            self.endpoint.result(req, {"accepted": True})
        elif req.method == "ping":  # the server's optional JSON-RPC keep-alive (§2.3)
            self.endpoint.result(req, {})
        elif req.method == "tableUnlock":
            table = self.tables.get(str(p.get("tableId")))
            if table is not None:
                table.locked = False
            self.endpoint.result(req, {"unlocked": True})
        else:
            self.endpoint.error(req, rpc.RpcError(rpc.METHOD_NOT_FOUND))

    def _lock(self, table: Table | None) -> dict[str, Any]:
        if table is None or table.locked or self.refuse_lock:
            return {"confirmed": False}
        table.locked = True
        return {"confirmed": True, "amount": table.amount - table.paid,
                "currency": table.currency}

    def _late_lock(self, req: rpc.Request, table: Table | None) -> Gen:
        yield self.world.timeout(self.lock_delay)
        self.endpoint.result(req, self._lock(table))
        self._flush()

    def close(self) -> None:
        self.end.close()
