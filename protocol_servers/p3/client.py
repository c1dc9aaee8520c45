"""A POS side of P3, as SimPy processes: what tests, conformance cases and the bench use.

It speaks either transport: a :class:`~simulator.streams.MessageEnd` (WebSocket or an
in-memory link) carries one P3 message per item; a :class:`~simulator.streams.ByteEnd`
carries framed TCP. Everything received is kept in :attr:`P3Client.received` in order, so
a case can check invariants (one final response per request, tags echoed) afterwards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from decimal import Decimal
from typing import Any

import simpy

from protocol_servers.p3 import envelope, jsonwire, tcpframes
from simulator.streams import ByteEnd, MessageEnd
from simulator.world import World

Message = dict[str, Any]
Gen = Generator[simpy.Event, Any, Any]
FINAL_TYPES = {
    "EXECUTE_TRANSACTION_REQUEST": "EXECUTE_TRANSACTION_RESPONSE",
}
# One arrival order over every client of the process: answers to one transaction can
# reach different POS connections, and which came last is only known across them.
_ARRIVALS = itertools.count()


class P3Client:
    def __init__(self, world: World, end: MessageEnd | ByteEnd, name: str = "pos") -> None:
        self.world = world
        self.end = end
        self.name = name
        self.received: list[Message] = []
        # position of each received message in the process-wide arrival order
        self.arrival: list[int] = []
        self.raw_received: list[bytes | str] = []
        self.sent: list[Message] = []
        self.closed = False
        self._arrived: simpy.Event = world.event()
        self._decoder = tcpframes.FrameDecoder(1 << 24)
        self._tags = world.rng(f"{name}.tags")
        world.process(self._pump())

    # -- sending ------------------------------------------------------------------------
    def new_tag(self) -> str:
        b = self._tags.getrandbits(128).to_bytes(16, "big")
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def send_raw(self, data: bytes | str) -> None:
        """Put bytes/text on the wire as is (TCP: no framing added)."""
        if isinstance(self.end, ByteEnd):
            self.end.write(data.encode("utf-8") if isinstance(data, str) else data)
        else:
            self.end.send(data)

    def send(self, message: Message) -> None:
        self.sent.append(message)
        text = jsonwire.dumps(message)
        if isinstance(self.end, ByteEnd):
            self.end.write(tcpframes.encode(text.encode("utf-8")))
        else:
            self.end.send(text)

    def request(self, type_: str, payload: Message | None = None, resource: str | None = None,
                tag: str | None = None) -> str:
        tag = tag or self.new_tag()
        msg: Message = {"tag": tag, "type": type_}
        if resource is not None:
            msg["resource"] = resource
        if payload is not None:
            msg[envelope.payload_key(type_)] = payload
        self.send(msg)
        return tag

    # -- receiving ----------------------------------------------------------------------
    def _pump(self) -> Gen:
        while True:
            if isinstance(self.end, ByteEnd):
                data = yield self.end.read()
                if not data:
                    break
                for frame in self._decoder.feed(data):
                    if isinstance(frame, bytes):
                        self._take(frame)
            else:
                msg = yield self.end.recv()
                if msg is None:
                    break
                self._take(msg)
        self.closed = True
        self._poke()

    def _take(self, raw: bytes | str) -> None:
        self.raw_received.append(raw)
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        self.received.append(jsonwire.loads(text))
        self.arrival.append(next(_ARRIVALS))
        self._poke()

    def _poke(self) -> None:
        ev, self._arrived = self._arrived, self.world.event()
        ev.succeed()

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 600.0,
                 start: int = 0) -> Gen:
        """The first received message (from index ``start``) that matches, or None."""
        deadline = self.world.now + timeout
        seen = start
        while True:
            for msg in self.received[seen:]:
                if match(msg):
                    return msg
            seen = len(self.received)
            if self.closed or self.world.now >= deadline:
                return None
            left = deadline - self.world.now
            yield self.world.any_of([self._arrived, self.world.timeout(left)])

    def response(self, tag: str, type_: str | None = None, timeout: float = 600.0) -> Gen:
        def match(m: Message) -> bool:
            return m.get("tag") == tag and "status" in m and (type_ is None or m["type"] == type_)
        return (yield from self.wait_for(match, timeout))

    def messages(self, tag: str) -> list[Message]:
        return [m for m in self.received if m.get("tag") == tag]

    # -- whole exchanges ---------------------------------------------------------------------
    def login(self, mode: str = "MOCK", merchant: str = "merchant", secret: str = "secret"
              ) -> Gen:
        tag = self.request("LOGIN_MERCHANT_REQUEST", {
            "providerMode": mode, "merchantIdentifier": merchant, "merchantSecret": secret})
        return (yield from self.response(tag))

    def execute(self, resource: str, type_: str = "CHARGE", amount: str | None = "12.50",
                currency: str | None = "EUR", **extra: Any) -> str:
        params: Message = {"type": type_}
        if amount is not None:
            params["amount"] = Decimal(amount)
        if currency is not None:
            params["currency"] = currency
        params.update(extra)
        return self.request("EXECUTE_TRANSACTION_REQUEST",
                            {"mode": "ONLINE", "transactionParameters": params}, resource)

    def final(self, tag: str, timeout: float = 600.0) -> Gen:
        return (yield from self.response(tag, "EXECUTE_TRANSACTION_RESPONSE", timeout))

    def action(self, tag: str, timeout: float = 600.0, start: int = 0) -> Gen:
        def match(m: Message) -> bool:
            return m.get("tag") == tag and m.get("type") in (
                "EXECUTE_TRANSACTION_ACTION", "EXECUTE_TRANSACTION_RESPONSE")
        return (yield from self.wait_for(match, timeout, start))

    def update(self, tag: str, state_details: str, timeout: float = 600.0) -> Gen:
        def match(m: Message) -> bool:
            body = m.get("executeTransactionUpdate") or {}
            return m.get("tag") == tag and (
                body.get("details", {}).get("stateDetails") == state_details
                or m.get("type") == "EXECUTE_TRANSACTION_RESPONSE")
        return (yield from self.wait_for(match, timeout))


def connect_local(server: Any, transport: str = "ws", name: str = "pos") -> P3Client:
    """A POS wired to ``server`` inside the world (virtual mode), over either transport.

    ``ws``: a message link, one P3 message per item, as a WebSocket carries them.
    ``tcp``: a byte link carrying the 4-byte length-prefixed stream, cut by the server's
    frame decoder exactly as bytes from a socket would be.
    """
    from simulator.streams import PureLabeler, byte_link, message_link

    world = server.world
    if transport == "ws":
        pos, srv = message_link(world, name, f"payserver<-{name}",
                                labeler=PureLabeler(envelope.label))
        server.accept(srv)
        return P3Client(world, pos, name)
    if transport == "tcp":
        bpos, bsrv = byte_link(world, name, f"payserver<-{name}",
                               labeler=PureLabeler(envelope.stream_label))
        server.accept_stream(bsrv)
        return P3Client(world, bpos, name)
    raise ValueError(f"unknown transport {transport!r}; use 'ws' or 'tcp'")


def requests_and_finals(
    clients: list[P3Client],
    live: list[P3Client],
    sent_at: dict[str, float],
    now: float,
    done_within: float,
) -> tuple[list[str], list[str]]:
    """Tags of transaction requests that owe a final answer, and the finals received.

    A request owes its answer once it has one, or once ``done_within`` simulated
    seconds have passed while its POS is still connected (a POS that went away is owed
    nothing: the server reverses instead). Feeds ``conformance.invariants``'
    one-final-answer check in the state machines.
    """
    asked: list[str] = []
    answered: list[str] = []
    for c in clients:
        finals = [m["tag"] for m in c.received if m["type"] == "EXECUTE_TRANSACTION_RESPONSE"]
        answered += finals
        for m in c.sent:
            if m["type"] != "EXECUTE_TRANSACTION_REQUEST":
                continue
            tag = m["tag"]
            due = now - sent_at.get(tag, now) > done_within
            if tag in finals or (due and c in live):
                asked.append(tag)
    return asked, answered


def told(clients: list[P3Client]) -> dict[str, int]:
    """What the POS side was told is booked, per transaction, in signed minor units.

    The last final response about a transaction wins (a CAPTURE or TIP_ADJUST answer
    carries the charge again, updated), last in arrival order over all clients: two POS
    that each adjust the tip of one charge are each told the total after their own
    adjust, and only the later answer holds what the acquirer books.
    An approved captured charge counts its amount,
    an approved refund minus its amount; anything else counts nothing. Compare with
    :meth:`~protocol_servers.p3.gateway.Ledger.bookings` through
    ``conformance.invariants.ledger_balanced``.
    """
    from protocol_servers.p3.money import to_minor

    state: dict[str, int] = {}
    arrived = sorted((at, i, j) for i, c in enumerate(clients)
                     for j, at in enumerate(c.arrival))
    for _, i, j in arrived:
        m = clients[i].received[j]
        if m.get("type") != "EXECUTE_TRANSACTION_RESPONSE" or m.get("status") != "OK":
            continue
        t = m["executeTransactionResponse"]["transaction"]
        ident = t["identifier"]
        state.pop(ident, None)
        if t["status"] != "APPROVED" or t.get("amount") is None:
            continue
        amount = to_minor(t["amount"], t["currency"])
        if t["type"] == "REFUND":
            state[ident] = -amount
        elif t.get("captured"):
            state[ident] = amount
    return state
