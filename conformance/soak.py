"""The soak: per server, thousands of malformed inputs and a thousand concurrent POS sessions.

``nox -s soak`` (or ``python -m conformance.soak [SERVER...]``) starts each server in a
child process on 127.0.0.1, then from this process:

1. sends ``--inputs`` generated malformed messages (the hostile classes of
   :mod:`conformance.strategies`: surrogates and unusual code points, numeric extremes,
   deep nesting, oversize frames, wrong types, truncated text, invalid UTF-8), each on a
   connection that waits for its answer; every so many a fresh client asks something
   ordinary, and a server that does not answer it is *wedged*;
2. runs ``--sessions`` POS sessions at once (each its own connection: log in or list
   devices, pay, close), counting requests that got no answer;
3. asks the child for its books and compares them with what the POS sessions were told.

It prints, per server: inputs, answers, wedges, unanswered, ledger mismatches and the
child's RSS before and after (``VmRSS`` from ``/proc``), then one JSON line. The exit
status is 1 unless every server had 0 wedges, 0 unanswered, 0 mismatches and RSS after
within 10 % of before.

The adapter interface
---------------------
A server joins the soak with one small adapter (a class registered in :data:`ADAPTERS`
by :func:`adapter`); nothing else here knows a protocol. An adapter has:

``name``
    the server's short name (``mpos``, ``p3``, ``connect``...).
``factor``
    the realtime factor its child world runs at (small: the soak is about answers and
    books, not about timing).
``async start(world) -> dict[str, str]``
    *child side*: start the server in ``world`` on 127.0.0.1 with free ports; return its
    URLs by role. Transports understood by the driver: ``ws://`` (one message per
    WebSocket message), ``tcp://`` (messages framed with a 4-byte big-endian length),
    ``tcp+stx://`` (STX, message, ETX) and ``tcp+nl://`` (one message per line): see
    :data:`STREAM_FRAMINGS`.
``booked() -> dict[str, int]``
    *child side*, run inside the world: money the server's back end holds per
    identifier the POS was given (signed minor units; reversed or refused is 0).
``malformed(rng) -> tuple[str, str | bytes]``
    *driver side*: one malformed input and the URL role to send it to (build it with
    :func:`conformance.strategies.hostile_message` and the protocol's envelope).
``async settle(wire, answer) -> dict[str, int]`` (optional)
    *driver side*: after the first answer to a malformed input, finish whatever it
    started (a valid-looking charge runs to its final answer) and return what that POS
    was told, so the books can be checked after fuzzing too.
``async opened(wire) -> None`` (optional)
    *driver side*: called on every connection the soak opens for malformed inputs or a
    health check, before anything is sent: a protocol whose server speaks first (GoChip
    greets with ``RES_ON_WS_INIT_REQUIRED``) reads its greeting here, so that each
    answer counted is the answer to what was sent.
``async closing(wire, urls) -> dict[str, int]`` (optional)
    *driver side*: called before the soak closes a connection it fuzzed on. A protocol
    whose answers may still be on their way (Valor: a request's STAN frame and final
    behind the error frame of junk sent with it) reads them here, recovers what it
    cannot read any more the protocol's way, and returns what that POS was told.
``stream_reader(url) -> Callable[[bytes], list[bytes]] | None`` (optional)
    *driver side*: how to cut answers from a byte stream when the server may answer in
    another framing than the request's (Valor answers junk that shows no framing in the
    connection's last good one); None keeps the URL scheme's framing.
``healthy() -> tuple[str, str]``
    *driver side*: an ordinary request (role, text) every live server answers at once.
``async session(urls, index) -> Session``
    *driver side*: one POS session over real sockets; returns the requests it sent, the
    ones that got no answer within the protocol's timeout, and what the POS was told
    (identifier -> minor units approved).

Every adapter is a module of :mod:`conformance.soak_adapters` named for its server
(``conformance/soak_adapters/<name>.py``, a module that calls :func:`adapter`); the soak
imports it when asked for that server, so every server is held to the same numbers. The
adapters live in the conformance layer because they drive the servers from above: layers
point down, and a server package never imports the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from simulator.world import World

#: seconds (wall) a request may go unanswered before it counts as unanswered/wedged
ANSWER_TIMEOUT = 20.0
#: every this many malformed inputs, a fresh client checks the server still answers
HEALTH_EVERY = 250
#: parallel connections the malformed inputs are spread over
INPUT_LANES = 8
RSS_TOLERANCE = 0.10
#: the WebSocket close code of a server that failed (RFC 6455 §7.4.1): no answer at all
INTERNAL_ERROR = 1011


@dataclass
class Session:
    """What one POS session did and was told."""

    requests: int = 0
    unanswered: int = 0
    told: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what went unanswered, for the report


class SoakAdapter(Protocol):
    name: str
    factor: float

    async def start(self, world: World) -> dict[str, str]: ...

    def booked(self) -> dict[str, int]: ...

    def malformed(self, rng: random.Random) -> tuple[str, str | bytes]: ...

    def healthy(self) -> tuple[str, str]: ...

    async def session(self, urls: dict[str, str], index: int) -> Session: ...


ADAPTERS: dict[str, Callable[[], SoakAdapter]] = {}
#: the module holding each server's adapter (imported on demand)
ADAPTER_MODULES = {name: f"conformance.soak_adapters.{name}"
                   for name in ("mpos", "p3", "connect", "gochip", "valor")}


def adapter(name: str) -> Callable[[Callable[[], SoakAdapter]], Callable[[], SoakAdapter]]:
    """Register an adapter factory under a server's short name."""

    def register(factory: Callable[[], SoakAdapter]) -> Callable[[], SoakAdapter]:
        ADAPTERS[name] = factory
        return factory

    return register


def make_adapter(name: str) -> SoakAdapter:
    if name not in ADAPTERS and name in ADAPTER_MODULES:
        importlib.import_module(ADAPTER_MODULES[name])
    if name not in ADAPTERS:
        raise KeyError(f"no soak adapter for {name!r} (known: {', '.join(ADAPTER_MODULES)})")
    return ADAPTERS[name]()


# -- transports (driver side) ----------------------------------------------------------------

#: byte-stream framings the driver speaks, by URL scheme (``tcp://`` is the 4-byte
#: big-endian length prefix); the codecs are the sans-I/O ones of :mod:`simulator.framing`
STREAM_FRAMINGS = {"tcp": "LengthPrefixFraming", "tcp+stx": "StxEtxFraming",
                   "tcp+nl": "NewlineFraming"}
#: our side's frame limit: far above any server's, so the server is the one that refuses
_DRIVER_MAX_FRAME = 1 << 24


class Wire:
    """One client connection: send a message, wait for the next one (or the close)."""

    def __init__(self, url: str, reader: Callable[[bytes], list[bytes]] | None = None) -> None:
        self.url = url
        #: how answers are cut from the byte stream (default: the scheme's framing)
        self._read_frames = reader
        self._ws: Any = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framing: Any = None
        self._frames: list[bytes] = []
        #: the close code the server sent (WebSocket), once it closed
        self.close_code: int | None = None

    async def open(self) -> Wire:
        scheme = self.url.split("://", 1)[0]
        if scheme in ("ws", "wss"):
            import websockets

            self._ws = await websockets.connect(self.url, max_size=None,
                                                open_timeout=ANSWER_TIMEOUT)
            return self
        if scheme not in STREAM_FRAMINGS:
            raise ValueError(f"the soak driver speaks ws://, {', '.join(STREAM_FRAMINGS)}://; "
                             f"not {self.url}")
        from simulator import framing

        codec = getattr(framing, STREAM_FRAMINGS[scheme])
        self._framing = codec(max_length=_DRIVER_MAX_FRAME)
        host, port = self.url.split("//", 1)[1].rsplit(":", 1)
        self._reader, self._writer = await asyncio.open_connection(host, int(port))
        return self

    @property
    def closed(self) -> bool:
        if self._ws is not None:
            return bool(self._ws.state.name in ("CLOSING", "CLOSED"))
        return self._writer is None or self._writer.is_closing()

    async def send(self, message: str | bytes) -> None:
        if self._ws is not None:
            await self._ws.send(message)
            return
        assert self._writer is not None
        data = (message.encode("utf-8", "surrogatepass") if isinstance(message, str)
                else message)
        self._writer.write(self._framing.encode(data))
        await self._writer.drain()

    async def recv(self, timeout: float = ANSWER_TIMEOUT) -> str | bytes | None:
        """The next message; None when the server closed the connection (an answer too:
        the protocol's way to refuse a frame it will not read)."""
        if self._ws is not None:
            import websockets

            try:
                return await asyncio.wait_for(self._ws.recv(), timeout)  # type: ignore[no-any-return]
            except websockets.ConnectionClosed as exc:
                self.close_code = exc.rcvd.code if exc.rcvd is not None else None
                return None
        assert self._reader is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._frames:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(self._reader.read(1 << 16), left)
            if not chunk:
                return None
            if self._read_frames is not None:
                self._frames += self._read_frames(chunk)
                continue
            # what the server wrote that is no frame (junk between frames) is not an
            # answer: keep reading for one
            self._frames += [f for f in self._framing.events(chunk) if isinstance(f, bytes)]
        return self._frames.pop(0)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._ws is not None:
                await self._ws.close()
            elif self._writer is not None:
                self._writer.close()


# -- the child: one server in its own process -------------------------------------------------

async def _child(name: str) -> None:
    from simulator.supervise import drive_until_stopped
    from simulator.transcript import Transcript
    from simulator.world import World

    # the adapter's scratch (its pty link directories) lives in one directory that goes
    # with the child, so a soak leaves nothing in the machine's temporary directory
    scratch = tempfile.TemporaryDirectory(prefix=f"cardloop-soak-{name}-")
    tempfile.tempdir = scratch.name
    soak = make_adapter(name)
    world = World(seed=1, mode="realtime", factor=soak.factor,
                  transcript=Transcript(keep=100, max_payload=16 * 1024))
    urls = await soak.start(world)
    print(json.dumps({"urls": urls, "pid": os.getpid()}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def commands() -> None:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            cmd = line.strip()
            if cmd in ("", "quit"):
                stop.set()
                return
            if cmd == "ledger":
                books: list[dict[str, int]] = []

                def read_books(books: list[dict[str, int]] = books) -> None:
                    books.append(soak.booked())

                world.inject(read_books)
                print(json.dumps({"ledger": books[0]}), flush=True)
            elif cmd == "gc":
                _settle()
                print(json.dumps({"rss": rss_kb(os.getpid()), "failures":
                                  world.process_failures}), flush=True)

    reader = asyncio.ensure_future(commands())
    status = await drive_until_stopped(world, stop, f"soak {name}")
    reader.cancel()
    scratch.cleanup()
    sys.exit(status)


def _settle() -> None:
    """Collect garbage and hand freed heap back to the OS before RSS is read.

    Without ``malloc_trim`` glibc keeps freed arenas mapped, and RSS would count memory
    nobody holds; with it, RSS is what the server really keeps.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Child:
    """The driver's handle on a server child process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.urls: dict[str, str] = {}
        self.pid = 0

    async def start(self) -> Child:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "conformance.soak", "--child", self.name,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 24)
        hello = await self._line(120)
        self.urls, self.pid = hello["urls"], hello["pid"]
        return self

    async def _line(self, timeout: float = 60) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"soak child {self.name} ended")
        return json.loads(raw)  # type: ignore[no-any-return]

    async def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(cmd.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self._line()

    async def stop(self) -> int:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(Exception):
            self.proc.stdin.write(b"quit\n")
            await self.proc.stdin.drain()
        try:
            return await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()


# -- the driver ------------------------------------------------------------------------------

@dataclass
class Result:
    server: str
    inputs: int = 0
    answers: int = 0
    wedges: int = 0
    unanswered: int = 0
    sessions: int = 0
    session_requests: int = 0
    ledger_mismatches: int = 0
    approved: int = 0  # payments the POS side was told were approved (money that moved)
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    process_failures: int = 0
    seconds: float = 0.0
    #: the first few malformed inputs that got no answer, for the report
    unanswered_inputs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.wedges == 0 and self.unanswered == 0 and self.ledger_mismatches == 0
                and self.rss_after_kb <= self.rss_before_kb * (1 + RSS_TOLERANCE))


async def _open(soak: SoakAdapter, url: str) -> Wire:
    """A fresh connection, past the server's greeting if its protocol has one."""
    reader = getattr(soak, "stream_reader", None)
    wire = await Wire(url, reader(url) if reader is not None else None).open()
    opened = getattr(soak, "opened", None)
    if opened is not None:
        await opened(wire)
    return wire


async def _healthy(soak: SoakAdapter, urls: dict[str, str]) -> bool:
    role, text = soak.healthy()
    try:
        wire = await _open(soak, urls[role])
    except (TimeoutError, OSError):
        return False
    try:
        await wire.send(text)
        return await wire.recv() is not None
    except (TimeoutError, OSError):
        return False
    finally:
        await wire.close()


async def _close(soak: SoakAdapter, wire: Wire, urls: dict[str, str],
                 told: dict[str, int] | None) -> None:
    """Close a fuzzing connection, letting the adapter read what is still owed first."""
    closing = getattr(soak, "closing", None)
    if closing is not None:
        got = await closing(wire, urls)
        if told is not None:
            told.update(got)
    await wire.close()


async def _lane(soak: SoakAdapter, urls: dict[str, str], inputs: list[tuple[str, str | bytes]],
                result: Result, told: dict[str, int] | None = None) -> None:
    wires: dict[str, Wire] = {}
    try:
        for role, message in inputs:
            result.inputs += 1
            try:
                wire = wires.get(role)
                if wire is None or wire.closed:
                    old = wires.pop(role, None)
                    if old is not None:
                        await _close(soak, old, urls, told)
                    wire = wires[role] = await _open(soak, urls[role])
                await wire.send(message)
                answer = await wire.recv()  # a message or the close: either is an answer
                if answer is None and wire.close_code == INTERNAL_ERROR:
                    # 1011 is the server failing, not refusing: its send raised or its
                    # handler died, and the POS never heard the protocol's error
                    result.unanswered += 1
                    if len(result.unanswered_inputs) < 5:
                        result.unanswered_inputs.append(f"{role} (1011): {message[:120]!r}")
                    gone = wires.pop(role, None)
                    if gone is not None:
                        await _close(soak, gone, urls, told)
                    continue
                result.answers += 1
                settle = getattr(soak, "settle", None)
                if answer is not None and settle is not None:
                    # a malformed-looking input may still be a valid request that moved
                    # money (1.5 is a fine amount): the fuzzer is a POS too, and what it
                    # was told counts in the books like any session's
                    got = await settle(wire, answer)
                    if told is not None:
                        told.update(got)
            except TimeoutError:
                result.unanswered += 1
                if len(result.unanswered_inputs) < 5:
                    result.unanswered_inputs.append(f"{role}: {message[:120]!r}")
                stale = wires.pop(role, None)
                if stale is not None:
                    await _close(soak, stale, urls, told)
            except OSError:
                # the server closed while we were still sending (an oversize frame): the
                # close is its answer
                result.answers += 1
                gone = wires.pop(role, None)
                if gone is not None:
                    await _close(soak, gone, urls, told)
    finally:
        for wire in wires.values():
            await _close(soak, wire, urls, told)


async def soak_server(name: str, inputs: int, sessions: int, seed: int,
                      out: Callable[[str], None] = print) -> Result:
    soak = make_adapter(name)
    result = Result(name)
    child = await Child(name).start()
    t0 = time.perf_counter()
    try:
        urls = child.urls
        rng = random.Random(f"{seed}/{name}")
        # warm up (first imports, first connections), then take RSS before
        told: dict[str, int] = {}
        # A warm-up round of the same load first: first-use costs (imports, caches, the
        # allocator's high-water mark for a thousand connections at once, buffers sized
        # by the largest frame) land in "before". What "after" adds is then growth that
        # a second round of the same load left behind: what leaks, per connection or per
        # transaction. Warm-up requests count like any other.
        warm = Result(name)
        await asyncio.gather(*(_lane(soak, urls, [soak.malformed(rng) for _ in range(50)],
                                     warm, told) for _ in range(INPUT_LANES)))
        result.unanswered += warm.unanswered
        result.unanswered_inputs += warm.unanswered_inputs
        for r in await asyncio.gather(*(soak.session(urls, 10_000_000 + i)
                                        for i in range(sessions)), return_exceptions=True):
            if isinstance(r, BaseException):
                result.unanswered += 1
                out(f"{name}: warm-up session failed: {r!r}")
            else:
                result.unanswered += r.unanswered
                told.update(r.told)
        await _healthy(soak, urls)
        result.rss_before_kb = (await child.ask("gc"))["rss"]
        out(f"{name}: RSS before {result.rss_before_kb / 1024:.1f} MiB; "
            f"{inputs} malformed inputs on {INPUT_LANES} connections ...")
        done = 0
        while done < inputs:
            batch = min(HEALTH_EVERY, inputs - done)
            probes = [soak.malformed(rng) for _ in range(batch)]
            lanes = [probes[k::INPUT_LANES] for k in range(INPUT_LANES)]
            await asyncio.gather(*(_lane(soak, urls, lane, result, told) for lane in lanes))
            done += batch
            if not await _healthy(soak, urls):
                result.wedges += 1
                out(f"{name}: WEDGED after {done} inputs")
        out(f"{name}: {sessions} concurrent POS sessions ...")
        results = await asyncio.gather(*(soak.session(urls, i) for i in range(sessions)),
                                       return_exceptions=True)
        notes: list[str] = []
        for r in results:
            result.sessions += 1
            if isinstance(r, BaseException):
                result.unanswered += 1
                out(f"{name}: session failed: {r!r}")
                continue
            result.session_requests += r.requests
            result.unanswered += r.unanswered
            notes.extend(r.notes[: max(0, 5 - len(notes))])
            told.update(r.told)
        for note in notes:
            out(f"{name}: unanswered: {note}")
        for note in result.unanswered_inputs:
            out(f"{name}: unanswered input: {note}")
        if not await _healthy(soak, urls):
            result.wedges += 1
        result.approved = sum(1 for amount in told.values() if amount)
        booked = (await child.ask("ledger"))["ledger"]
        for ident in set(told) | set(booked):
            if booked.get(ident, 0) != told.get(ident, 0):
                result.ledger_mismatches += 1
                out(f"{name}: ledger mismatch for {ident}: booked {booked.get(ident, 0)}, "
                    f"POS told {told.get(ident, 0)}")
        after = await child.ask("gc")
        result.rss_after_kb = after["rss"]
        result.process_failures = after["failures"]
    finally:
        await child.stop()
    result.seconds = round(time.perf_counter() - t0, 1)
    return result


def _report(r: Result, out: Callable[[str], None]) -> None:
    growth = (r.rss_after_kb / r.rss_before_kb - 1) * 100 if r.rss_before_kb else 0.0
    out(f"{r.server}: inputs {r.inputs}, answers {r.answers}, wedges {r.wedges}, "
        f"unanswered {r.unanswered}, sessions {r.sessions} ({r.session_requests} requests), "
        f"approved payments {r.approved}, ledger mismatches {r.ledger_mismatches}, "
        f"RSS before {r.rss_before_kb / 1024:.1f} MiB "
        f"after {r.rss_after_kb / 1024:.1f} MiB ({growth:+.1f} %), "
        f"contained process failures {r.process_failures}, {r.seconds} s "
        f"-> {'OK' if r.ok else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.soak", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("servers", nargs="*", default=list(ADAPTER_MODULES),
                        help="servers to soak (default: every one with an adapter)")
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(args.child))
        return 0
    results = []
    for name in args.servers:
        r = asyncio.run(soak_server(name, args.inputs, args.sessions, args.seed))
        _report(r, print)
        results.append(r)
    print(json.dumps({"soak": [dict(vars(r), ok=r.ok) for r in results]}))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    # run the importable module's main, so adapters registered by other modules (which
    # import ``conformance.soak``) land in the same registry
    from conformance import soak as _soak

    sys.exit(_soak.main())
