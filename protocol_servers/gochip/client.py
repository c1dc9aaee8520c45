"""A POS side of GoChip Websockets, as SimPy processes: for tests, cases and the bench.

Written from the note alone (§B.4): it keeps every frame received in order, waits for
the frame types a step expects, and answers the reader's prompts as told (``answers``:
an application index, a signature, an amount, or ``None`` to leave a prompt
unanswered). Amounts go out as decimal strings; responses are read with numbers as
:class:`~decimal.Decimal`, never floats.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from decimal import Decimal
from typing import Any

import simpy

from protocol_servers.gochip import frames
from simulator.streams import MessageEnd, message_link
from simulator.world import World

Message = dict[str, Any]
Gen = Generator[simpy.Event, Any, Any]
FINALS = ("RES_ON_SALE_RESPONSE", "RES_ON_REFUND_RESPONSE", "RES_ON_TRANSACTION_COMM_ERROR",
          "RES_ON_OFFLINE_SALE_REQUEST",
          "RES_ON_DEVICE_ERROR")
# frames that carry a saleResponse: the sale itself, a reversal's answer, and a 1.6
# refund the gateway processed as a reversal
SALE_ANSWERS = ("RES_ON_SALE_RESPONSE", "RES_ON_REVERSAL_RETRIEVED", "RES_ON_REFUND_RESPONSE")
SIGNATURE = [{"x": 10, "y": 10}, {"x": 40, "y": 22}, {"x": 80, "y": 12}]


class GoChipClient:
    def __init__(self, world: World, end: MessageEnd, name: str = "pos") -> None:
        self.world = world
        self.end = end
        self.name = name
        self.received: list[Message] = []
        self.sent: list[Message] = []
        self.closed = False
        self.answers: dict[str, Any] = {"RES_ON_SELECT_APPLICATION": 0,
                                        "RES_ON_SIGNATURE_REQUIRED": SIGNATURE,
                                        "RES_ON_REQUEST_SET_AMOUNT": "keep"}
        self._seen = 0
        self._arrived: simpy.Event = world.event()
        world.process(self._pump())

    def _pump(self) -> Gen:
        while True:
            msg = yield self.end.recv()
            if msg is None:
                self.closed = True
                self._wake()
                return
            try:
                body = json.loads(msg, parse_float=Decimal)
            except (ValueError, TypeError):
                body = None
            if not isinstance(body, dict):  # a frame a fault on the line garbled
                body = {"type": "?", "raw": str(msg)[:200]}
            self.received.append(body)
            self._prompted(body)
            self._wake()

    def _wake(self) -> None:
        ev, self._arrived = self._arrived, self.world.event()
        ev.succeed()

    def _prompted(self, body: Message) -> None:
        kind = body.get("type")
        if kind not in self.answers:
            return
        answer = self.answers[kind]
        if answer is None:
            return  # left unanswered
        if kind == "RES_ON_SELECT_APPLICATION":
            self.send("REQ_SUBMIT_APPLICATION", {"index": answer})
        elif kind == "RES_ON_SIGNATURE_REQUIRED":
            self.send("REQ_SUBMIT_SIGNATURE", {"signatureData": answer})
        elif kind == "RES_ON_REQUEST_SET_AMOUNT":
            sale = dict(body.get("data", {}).get("sale", {}))
            if answer == "refuse":
                self.send("REQ_SUBMIT_AMOUNT", {"sale": _strings(sale), "confirmation": False})
                return
            if answer != "keep":
                sale["amount"] = answer
            self.send("REQ_SUBMIT_AMOUNT", {"sale": _strings(sale), "confirmation": True})

    # -- sending --------------------------------------------------------------------------
    def send(self, kind: str, data: dict[str, Any] | None = None) -> None:
        msg = {"type": kind, "data": data if data is not None else {}}
        self.sent.append(msg)
        if not self.end.is_closed:
            self.end.send(json.dumps(msg))

    def send_raw(self, raw: str | bytes) -> None:
        if not self.end.is_closed:
            self.end.send(raw)

    def close(self) -> None:
        self.end.close()

    # -- waiting --------------------------------------------------------------------------
    def wait_for(self, kinds: str | Iterable[str], limit: float = 600.0) -> Gen:
        """The next unseen frame of one of ``kinds`` (None on timeout or close)."""
        wanted = {kinds} if isinstance(kinds, str) else set(kinds)
        deadline = self.world.now + limit
        while True:
            while self._seen < len(self.received):
                msg = self.received[self._seen]
                self._seen += 1
                if msg.get("type") in wanted:
                    return msg
            if self.closed or self.world.now >= deadline:
                return None
            yield self.world.any_of([self._arrived,
                                     self.world.timeout(deadline - self.world.now)])

    def request(self, kind: str, data: dict[str, Any] | None, answer: str | Iterable[str],
                limit: float = 600.0) -> Gen:
        """Send and wait for its answer or an error frame that names it."""
        self.send(kind, data)
        kinds = {answer} if isinstance(answer, str) else set(answer)
        errors = {frames.WS_ERROR, frames.SDK_ERROR, frames.DEVICE_ERROR}
        return (yield from self.wait_for(kinds | errors, limit))

    def mark_seen(self) -> None:
        """Later waits look only at frames that arrive from now on."""
        self._seen = len(self.received)

    def types(self) -> list[str]:
        return [str(m.get("type")) for m in self.received]

    def messages(self) -> list[str]:
        return [m["data"]["message"] for m in self.received if m.get("type") == "RES_ON_MESSAGE"]

    # -- the §B.4 steps -------------------------------------------------------------------
    def setup(self, mode: str = "TEST", device: str = "IDTECH", port: str | None = None,
              **device_fields: Any) -> Gen:
        """Steps 1-5: init required, ws init, configuration, device (``device_fields``
        add to or replace REQ_INIT_DEVICE's). Returns the device frame."""
        first = yield from self.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        assert first is not None, f"no RES_ON_WS_INIT_REQUIRED: {self.types()}"
        got = yield from self.request("REQ_WS_INIT", {"mode": mode, "logLevel": "LEVEL_FULL"},
                                      "RES_ON_WS_INIT")
        assert got is not None and got["type"] == "RES_ON_WS_INIT", got
        got = yield from self.request("REQ_INIT_WITH_CONFIGURATION",
                                      {"terminalId": "2997001", "secret": "test-secret"},
                                      "RES_ON_SETTINGS_RETRIEVED")
        assert got is not None and got["type"] == "RES_ON_SETTINGS_RETRIEVED", got
        data: dict[str, Any] = {"device": device, "connectionType": "USB",
                                "inputMethod": "SWIPE_OR_INSERT_OR_TAP", "emvType": "STANDARD"}
        if port is not None:
            data["portName"] = port
        data.update(device_fields)
        got = yield from self.request("REQ_INIT_DEVICE", data, "RES_ON_DEVICE_CONNECTED")
        assert got is not None and got["type"] == "RES_ON_DEVICE_CONNECTED", got
        return got

    def sale(self, amount: str, limit: float = 600.0, **extra: Any) -> Gen:
        """Step 6-8: the final frame of a sale (or the cancel attempt that ended it)."""
        self.send("REQ_PROCESS_SALE", {"amount": amount, **extra})
        return (yield from self.wait_for(
            (*FINALS, "RES_ON_ERROR", "RES_ON_WS_ERROR", "CANCELLED"), limit))

    def final(self, limit: float = 600.0) -> Gen:
        return (yield from self.wait_for(FINALS, limit))


def told(clients: Iterable[GoChipClient]) -> list[tuple[str, int]]:
    """(uniqueRef, signed minor units) of every approval the POS was told of.

    A sale response that answers a reversal (``RES_ON_REVERSAL_RETRIEVED``, or a 1.6
    refund processed as a reversal) gives the sale's final amount: it replaces what the
    POS held for that sale, and a final amount of 0 means nothing is held.
    """
    held: dict[str, int] = {}
    for c in clients:
        for m in c.received:
            kind, data = m.get("type"), m.get("data") or {}
            if kind in SALE_ANSWERS and "saleResponse" in data:
                body = data["saleResponse"]
                if body.get("code") == "A":
                    held[body["uniqueRef"]] = _minor(body["authorizedAmount"])
            elif kind == "RES_ON_REFUND_RESPONSE":
                body = data["refundResponse"]
                if body.get("code") == "A":
                    held[body["uniqueRef"]] = -_minor(body["refundedAmount"])
    return [(ref, amount) for ref, amount in held.items() if amount != 0]


def _minor(value: Any) -> int:
    return int(Decimal(str(value)) * 100)


def _strings(sale: dict[str, Any]) -> dict[str, Any]:
    """A response's sale with amounts turned back into request strings."""
    out = dict(sale)
    if isinstance(out.get("amount"), (int, Decimal)):
        out["amount"] = f"{Decimal(out['amount']):.2f}"
    return out


def connect_local(agent: Any, name: str = "pos") -> GoChipClient:
    """A POS on an in-memory link to ``agent`` (virtual mode)."""
    pos_end, agent_end = message_link(agent.world, name, f"gochip:{name}",
                                      labeler=frames.guarded_label(agent.world.redactor))
    agent.accept(agent_end)
    return GoChipClient(agent.world, pos_end, name)
