"""The Valor terminal in the soak: WebSocket and TCP on one port, in STX/ETX and newline.

A Valor request is answered in three steps (§A.4): ``ACK``, ``Payload Request
Received`` with the STAN, then the final frame, which the POS acknowledges. Sessions
alternate the terminal's transports (WebSocket, TCP with STX/ETX, TCP with a newline);
each asks the terminal's status (``TRAN_MODE 96``), and one in ``paying_every`` then
sells, taking turns at the one terminal as clerks at one counter do. What each POS was
told is the acquirer reference of the final frame's ``TXN_ID`` and its total when
``STATE`` is 0 (0 otherwise); the books are the terminal's records at the acquirer.

Bare JSON (the fourth framing of §A.3) is not driven: it has no end marker a generic
driver can read answers by, and the terminal's decoder handles it in the same code path
as the newline framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import weakref
from typing import TYPE_CHECKING, Any

from conformance.soak import ANSWER_TIMEOUT, Session, Wire, adapter
from conformance.soak_adapters.common import kind
from conformance.strategies import hostile_message

if TYPE_CHECKING:
    from simulator.world import World

_ROLES = ("ws", "stx", "nl")
_STEPS = ("ACK", "Payload Request Received")
#: seconds (wall) to wait after a fuzzed request's ACK for the step that says the
#: terminal took it; none means the ACK was the whole answer
_NEXT_STEP_WAIT = 5.0
#: seconds (wall) without a frame after which a connection about to close owes nothing
#: more: the terminal writes a request's ACK and STAN frame within half a simulated second
#: (timings.toml), 10 ms at the soak's factor
_QUIET = 0.25


def _request(fields: dict[str, str]) -> str:
    return json.dumps(fields, separators=(",", ":"))


def _told(frame: dict[str, Any], request: dict[str, str]) -> dict[str, int]:
    from protocol_servers.valor.terminal import ref_of

    txn = str(frame.get("TXN_ID") or "")
    if not txn or request.get("TRAN_CODE") != "1":
        return {}
    ok = str(frame.get("STATE")) == "0"
    amount = int(frame.get("TOTAL_AMOUNT") or frame.get("AMOUNT") or 0) if ok else 0
    return {ref_of(txn): amount}


@adapter("valor")
class ValorSoak:
    name = "valor"
    # the card path is in memory (no pty): the world can run fast
    factor = 0.05
    # one session in this many sells: the terminal has one card reader, and the soak is
    # about answers and books
    paying_every = 40

    def __init__(self) -> None:
        self.terminal: Any = None
        self._turn = asyncio.Lock()
        #: per fuzzing connection: STANs it was given whose final it has not read yet
        self._stans: weakref.WeakKeyDictionary[Wire, set[str]] = weakref.WeakKeyDictionary()

    async def start(self, world: World) -> dict[str, str]:
        from protocol_servers.valor import live
        from protocol_servers.valor.terminal import ValorTerminal

        self.terminal = ValorTerminal(world)
        front = await live.Front(world, self.terminal, "valor").start("127.0.0.1", 0)
        return {"ws": f"ws://127.0.0.1:{front.port}", "stx": f"tcp+stx://127.0.0.1:{front.port}",
                "nl": f"tcp+nl://127.0.0.1:{front.port}"}

    def booked(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.terminal.bookings():
            out[entry["key"]] = entry["amount"] if entry["approved"] else 0
        return out

    _ENVELOPES = (
        lambda v: f'{{"TRAN_MODE":{v},"TRAN_CODE":"1","AMOUNT":"100"}}',
        lambda v: f'{{"TRAN_MODE":"1","TRAN_CODE":{v},"AMOUNT":"100"}}',
        lambda v: f'{{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":{v}}}',
        lambda v: f'{{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"100","TIP_AMOUNT":{v}}}',
        lambda v: f'{{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"100","REQ_TXN_ID":{v}}}',
        lambda v: f'{{"TRAN_MODE":"90","STAN_NO":{v}}}',
        lambda v: f'{{"TRAN_MODE":"90","STAN_NO":"1","EXTRA":{v}}}',
        lambda v: v,
    )

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]:
        return rng.choice(_ROLES), hostile_message(rng, rng.choice(self._ENVELOPES), kind(rng))

    def stream_reader(self, url: str) -> Any:
        """Answers cut by the terminal's own stream decoder: a frame it could not read
        is answered in the framing that frame showed or the connection's last good one,
        which for a connection that has only sent junk may be another than the URL's
        (junk without a marker on an STX/ETX connection is answered bare)."""
        if url.startswith("ws"):
            return None
        from protocol_servers.valor.wire import Frame, JsonStreamDecoder

        decoder = JsonStreamDecoder()

        def read(data: bytes) -> list[bytes]:
            return [f.payload for f in decoder.feed(data) if isinstance(f, Frame)]
        return read

    def healthy(self) -> tuple[str, str]:
        return "ws", _request({"TRAN_MODE": "96"})

    # -- the fuzzing POS: what it was told, and what it still waits for ------------------
    # A fuzzed message can hold junk and a request at once: the terminal answers the junk
    # at once and the request's ACK, STAN frame and final after it, so a request's frames
    # may still be on the wire when the soak moves on (or closes the connection). The
    # fuzzing POS keeps, per connection, the STANs it was given whose final it has not
    # read, reads them before it closes (:meth:`closing`), and recovers any it can no
    # longer read by TRAN_MODE 90 and the STAN, as the note tells a POS to (§A.4 step 7).

    def _open_stans(self, wire: Wire) -> set[str]:
        return self._stans.setdefault(wire, set())

    async def _note(self, wire: Wire, raw: str | bytes, told: dict[str, int]) -> str:
        """Take one frame: "ack", "stan" (a STAN to wait for), "final" or "other"."""
        try:
            msg = json.loads(raw)
        except ValueError:
            return "other"
        if not isinstance(msg, dict):
            return "other"
        if msg.get("MSG") == "ACK":
            return "ack"
        if msg.get("MSG") == "Payload Request Received":
            self._open_stans(wire).add(str(msg.get("STAN_NO", "")))
            return "stan"
        stan = str(msg.get("STAN_NO") or msg.get("STAN_ID") or "")
        self._open_stans(wire).discard(stan)
        # the fuzzer does not know what it asked; a sale's final names no TRAN_CODE
        told.update(_told(msg, {"TRAN_CODE": str(msg.get("TRAN_CODE", "1"))}))
        if "STATE" in msg:
            with contextlib.suppress(OSError):
                await wire.send(_request({"STATE": "0", "MSG": "ACK"}))
        return "final"

    async def settle(self, wire: Wire, answer: str | bytes) -> dict[str, int]:
        """A fuzzed request the terminal took (its ACK came): read on to its final frame."""
        told: dict[str, int] = {}
        seen = await self._note(wire, answer, told)
        if seen == "ack":
            # an ACK alone answers TRAN_MODE 96; a request the terminal works on follows
            # its ACK with "Payload Request Received" or its refusal at once (§A.4)
            try:
                raw = await wire.recv(_NEXT_STEP_WAIT)
            except TimeoutError:
                return told
            if raw is None:
                return told
            seen = await self._note(wire, raw, told)
        if seen == "stan":
            await self._read_open(wire, told)
        return told

    async def _read_open(self, wire: Wire, told: dict[str, int]) -> None:
        """Frames until every STAN this connection was given has its final."""
        while self._open_stans(wire):
            try:
                raw = await wire.recv(ANSWER_TIMEOUT)
            except TimeoutError:
                return
            if raw is None:
                return
            await self._note(wire, raw, told)

    async def closing(self, wire: Wire, urls: dict[str, str]) -> dict[str, int]:
        """Before the soak closes a fuzzing connection: read what is still on its way
        (until the line is quiet), then recover each STAN left without its final."""
        told: dict[str, int] = {}
        try:
            while True:
                wait = ANSWER_TIMEOUT if self._open_stans(wire) else _QUIET
                try:
                    raw = await wire.recv(wait)
                except TimeoutError:
                    break
                if raw is None:
                    break
                await self._note(wire, raw, told)
        except OSError:
            pass
        for stan in sorted(self._stans.pop(wire, set())):
            told.update(await self._recover(urls, stan))
        return told

    async def _recover(self, urls: dict[str, str], stan: str) -> dict[str, int]:
        """TRAN_MODE 90 for ``stan`` on a new connection until its outcome is known."""
        for _ in range(40):
            wire = await Wire(urls["ws"]).open()
            try:
                await wire.send(_request({"TRAN_MODE": "90", "STAN_NO": stan}))
                while True:
                    raw = await wire.recv(ANSWER_TIMEOUT)
                    if raw is None:
                        break
                    msg = json.loads(raw)
                    if isinstance(msg, dict) and msg.get("MSG") != "ACK":
                        break
            finally:
                await wire.close()
            if isinstance(msg, dict) and str(msg.get("STATE")) != "-2":
                return _told(msg, {"TRAN_CODE": "1"})
            await asyncio.sleep(0.25)  # still running at the terminal: ask again
        return {}

    async def _final(self, wire: Wire) -> dict[str, Any] | None:
        """Frames until the final one (past ACK and the STAN), then the trailing ACK."""
        while True:
            try:
                raw = await wire.recv(ANSWER_TIMEOUT)
            except TimeoutError:
                return None
            if raw is None:
                return None
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if isinstance(msg, dict) and msg.get("MSG") not in _STEPS:
                await wire.send(_request({"STATE": "0", "MSG": "ACK"}))
                return msg

    async def _ask(self, wire: Wire, s: Session, fields: dict[str, str]) -> Any:
        """One request to its final frame (or its refusal); None if none came.

        ``TRAN_MODE 96`` asks whether the terminal is there: its ACK is the whole answer.
        """
        s.requests += 1
        await wire.send(_request(fields))
        if fields.get("TRAN_MODE") == "96":
            try:
                raw = await wire.recv(ANSWER_TIMEOUT)
            except TimeoutError:
                raw = None
            final = json.loads(raw) if raw is not None else None
        else:
            final = await self._final(wire)
        if final is None:
            s.unanswered += 1
        return final

    async def session(self, urls: dict[str, str], index: int) -> Session:
        s = Session()
        role = _ROLES[index % len(_ROLES)]
        wire = await Wire(urls[role], self.stream_reader(urls[role])).open()
        try:
            if await self._ask(wire, s, {"TRAN_MODE": "96"}) is None:
                s.notes.append(f"session {index} ({role}): TRAN_MODE 96")
                return s
            if index % self.paying_every:
                return s
            async with self._turn:
                await self._sell(wire, s, index, role)
            return s
        finally:
            await wire.close()

    async def _sell(self, wire: Wire, s: Session, index: int, role: str) -> None:
        sale = {"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": str(1000 + index % 100),
                "REQ_TXN_ID": f"S{index}"}
        for _ in range(400):
            final = await self._ask(wire, s, sale)
            if final is None:
                s.notes.append(f"session {index} ({role}): sale")
                return
            if str(final.get("STATE")) == "-1" and final.get("ERROR_MSG") == "PROCESSING ERROR":
                # a fuzzed sale holds the terminal: wait for it, as a clerk would
                await asyncio.sleep(0.3 + (index % 11) * 0.03)
                continue
            s.told.update(_told(final, sale))
            return
