"""A POS written from the note alone (semi-and-websockets.md §A.4 and the client rules of §A.7).

It is the suite's client against a terminal (ours or a vendor's), the bench's load and
the tests' customer. It does what the note says a careful POS does: waits 5 s for the
ACK (none: the request never landed, a clean failure), keeps the STAN of "Payload
Request Received", drops a final frame whose echoed reference is not its own, sends the
trailing ACK, and after a lost socket recovers by ``TRAN_MODE 90`` and the STAN instead
of retrying. Its books (:attr:`ValorPos.book`) are what it was finally told, which the
ledger invariant compares with the acquirer.

The POS is a world process over an end, like the terminal: in virtual mode the end is an
in-memory link, in realtime a socket or a serial port.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from protocol_servers.valor import dictionary as d
from protocol_servers.valor.dictionary import (
    ACK_TIMEOUT,
    PAYLOAD_TIMEOUT,
    SALE_TIMEOUT,
)
from protocol_servers.valor.terminal import ref_of
from protocol_servers.valor.wire import Frame, JsonStreamDecoder, Style, encode
from simulator.streams import ByteEnd
from simulator.world import World

Gen = Generator[simpy.Event, Any, Any]
#: wall seconds every wait of the POS allows on top of its timeout in a realtime world.
#: The terminal's delays are simulated and shrink with the world's factor; the sockets,
#: the event loop and a loaded machine between the two sides do not. At factor 0.05 a
#: 5 s ACK window is 250 ms of wall time, which one busy scheduler tick can eat; a real
#: POS measures its 5 s on the wall clock, with the transit inside it. Our choice: 2 s.
TRANSIT_ALLOWANCE_WALL = 2.0


@dataclass
class Result:
    """How one request ended for the POS."""

    outcome: str  # final | no_ack | lost (socket gone after the STAN) | timeout | cut
    frames: list[dict[str, Any]] = field(default_factory=list)
    stan: str = ""
    final: dict[str, Any] | None = None
    ack_after: float | None = None  # simulated seconds from the request to its ACK

    @property
    def state(self) -> str:
        return str((self.final or {}).get("STATE", ""))

    @property
    def approved(self) -> bool:
        return self.state == "0"


class ValorPos:
    def __init__(self, world: World, end: Any, style: Style = "bare", name: str = "pos",
                 trailing_ack: bool = True, book: dict[str, dict[str, Any]] | None = None,
                 by_tran_no: dict[str, str] | None = None) -> None:
        self.world = world
        self.end = end
        self.style = style
        self.name = name
        self.trailing_ack = trailing_ack
        self.bytes = isinstance(end, ByteEnd)
        self.decoder = JsonStreamDecoder()
        self.received: list[dict[str, Any]] = []
        self.arrived_at: list[float] = []  # the world's time each received frame came
        self.sent: list[dict[str, Any]] = []
        self.closed = False
        self._wake: simpy.Event = world.event()
        # TXN_ID -> what the POS was told; several connections of one POS share it
        self.book: dict[str, dict[str, Any]] = {} if book is None else book
        self.by_tran_no: dict[str, str] = {} if by_tran_no is None else by_tran_no
        self.dropped_foreign = 0
        #: simulated seconds added to every wait (0 in a virtual world: nothing in transit)
        self.transit = (TRANSIT_ALLOWANCE_WALL / world.factor
                        if getattr(world, "mode", "virtual") != "virtual" else 0.0)
        world.process(self._reader())

    # -- wire ------------------------------------------------------------------------------
    def send(self, request: dict[str, Any]) -> None:
        self.sent.append(request)
        self.send_raw(d.dumps({k: str(v) for k, v in request.items()}))

    def send_raw(self, payload: bytes) -> None:
        if self.bytes:
            self.end.write(encode(payload, self.style))
        else:
            self.end.send(payload.decode("utf-8", "replace"))

    def close(self) -> None:
        self.closed = True
        self.end.close()

    def reconnect(self, end: Any) -> None:
        """Carry on over a new connection (the books stay)."""
        if not self.closed:
            self.end.close()
        self.end, self.bytes = end, isinstance(end, ByteEnd)
        self.decoder = JsonStreamDecoder()
        self.closed = False
        self.received.clear()
        self.arrived_at.clear()
        self.world.process(self._reader())

    def recover(self, connect: Callable[[], Any], stan: str, request: dict[str, Any],
                attempts: int = 40, pause: float = 3.0) -> Gen:
        """After a lost socket: reconnect and ask TRAN_MODE 90 until the outcome is known.

        ``connect()`` returns a new end, or a SimPy event whose value is one (a real
        socket opens on the asyncio loop while the world runs). Never sends the request
        again (§A.7). Returns the final frame, or None.
        """
        for _ in range(attempts):
            if self.closed:
                end = connect()
                if isinstance(end, simpy.Event):
                    end = yield end
                self.reconnect(end)
            frame = yield from self.status(stan)
            if frame is not None and str(frame.get("STATE")) != "-2":
                self.learn(request, frame)
                return frame
            yield self.world.timeout(pause)
        return None

    def _reader(self) -> Gen:
        import json

        end = self.end
        while True:
            item = yield (end.read() if self.bytes else end.recv())
            if item in (b"", None):
                break
            frames = ([f for f in self.decoder.feed(item) if isinstance(f, Frame)] if self.bytes
                      else [Frame(item.encode() if isinstance(item, str) else item, "ws")])
            for f in frames:
                try:
                    obj = json.loads(f.payload)
                except ValueError:
                    continue
                if isinstance(obj, dict) and end is self.end:
                    self.received.append(obj)
                    self.arrived_at.append(self.world.now)
            self._poke()
        if end is self.end:
            self.closed = True
        self._poke()

    def _poke(self) -> None:
        wake, self._wake = self._wake, self.world.event()
        wake.succeed()

    def wait_frame(self, since: int, timeout: float) -> Gen:
        """The next frame after index ``since``; None on timeout or a closed socket.

        ``timeout`` is simulated; a realtime world adds :attr:`transit`."""
        deadline = self.world.now + timeout + self.transit
        while len(self.received) <= since:
            if self.closed:
                return None
            left = deadline - self.world.now
            if left <= 0:
                return None
            yield self.world.any_of([self._wake, self.world.timeout(left)])
        return self.received[since]

    # -- one exchange (§A.4) ---------------------------------------------------------------
    def transact(self, request: dict[str, Any], final_timeout: float = SALE_TIMEOUT) -> Gen:
        mine = str(request.get("REQ_TXN_ID", ""))
        res = Result("timeout")
        idx = len(self.received)
        sent_at = self.world.now
        self.send(request)
        frame = yield from self.wait_frame(idx, ACK_TIMEOUT)
        if frame is None:
            res.outcome = "cut" if self.closed else "no_ack"
            return res
        res.ack_after = self.arrived_at[idx] - sent_at
        idx += 1
        res.frames.append(frame)
        if frame.get("MSG") != "ACK":  # refused at once (busy, not a request)
            res.final, res.outcome = frame, "final"
            return res
        while True:
            timeout = PAYLOAD_TIMEOUT if not res.stan else final_timeout
            frame = yield from self.wait_frame(idx, timeout)
            if frame is None:
                res.outcome = ("lost" if res.stan else "cut") if self.closed else "timeout"
                return res
            idx += 1
            res.frames.append(frame)
            if frame.get("MSG") == "ACK":
                continue
            if frame.get("MSG") == "Payload Request Received":
                res.stan = str(frame.get("STAN_NO", ""))
                continue
            echoed = str(frame.get("MER_TXN_ID") or frame.get("REQ_TXN_ID") or "")
            if mine and echoed and echoed != mine:
                self.dropped_foreign += 1  # §A.7: not ours, keep waiting
                continue
            res.final, res.outcome = frame, "final"
            if self.trailing_ack:
                self.send_raw(d.dumps(d.ack()))
            self.learn(request, frame)
            return res

    def status(self, stan: str) -> Gen:
        """TRAN_MODE 90: the terminal's record of ``stan``."""
        idx = len(self.received)
        self.send({"TRAN_MODE": "90", "STAN_NO": stan})
        while True:
            frame = yield from self.wait_frame(idx, PAYLOAD_TIMEOUT)
            if frame is None or frame.get("MSG") != "ACK":
                return frame
            idx += 1

    def ping(self, timeout: float = ACK_TIMEOUT) -> Gen:
        idx = len(self.received)
        self.send({"TRAN_MODE": "96"})
        frame = yield from self.wait_frame(idx, timeout)
        return frame

    # -- the POS's books -------------------------------------------------------------------
    def learn(self, request: dict[str, Any], frame: dict[str, Any]) -> None:
        """Record what the terminal finally said about ``request``."""
        code, state = str(request.get("TRAN_CODE", "")), str(frame.get("STATE", ""))
        mode = str(request.get("TRAN_MODE", ""))
        if state != "0" or mode == d.MODE_CASH:
            return
        txn = str(frame.get("TXN_ID", ""))
        if code in (d.CODE_SALE, d.CODE_PREAUTH, d.CODE_REFUND, d.CODE_TICKET) and txn:
            self.book[txn] = {"key": ref_of(txn), "approved": True,
                              "amount": int(frame.get("TOTAL_AMOUNT") or frame["AMOUNT"])}
            self.by_tran_no[str(frame.get("TRAN_NO", ""))] = txn
        elif code == d.CODE_VOID and txn in self.book:
            self.book[txn]["approved"] = False
        elif code == d.CODE_TIP_ADJUST and txn in self.book:
            self.book[txn]["amount"] = int(frame["TOTAL_AMOUNT"])

    def told(self) -> list[dict[str, Any]]:
        return list(self.book.values())
