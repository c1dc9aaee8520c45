"""The terminal on real ports: WebSocket and TCP on one port, cancel socket, USB pty, client role.

Server role (§A.2, the default): port 5000 takes both WebSocket and plain TCP clients.
A real terminal is set to one connection type in the portal; the reference serves
both on the one port so a POS of either kind finds it where the note says. The first
bytes decide: an HTTP ``GET`` is a WebSocket upgrade and the connection is piped to
the WebSocket server (``simulator.ports.ws``) listening privately on loopback; anything
else is a TCP byte stream read by the terminal's own framing. Port 5001 is the cancel
socket, the same way. The USB variant is a pty pair: the terminal holds one side at
9600 or 115200 baud, paced by the world (:class:`simulator.pacing.Pacing`); the POS opens
the other.

Client role: the terminal dials the POS's ``ws://`` or ``tcp://`` server and serves the
requests that arrive there; when the POS closes, it dials again after ``redial_pause``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from protocol_servers.valor.terminal import ValorTerminal
from simulator.streams import ByteEnd
from simulator.world import World

#: a WebSocket upgrade starts with the request line (RFC 6455 §4.1)
UPGRADE = b"GET "
#: our choice: wait this long (wall) for the first bytes before treating a client as TCP
SNIFF_BYTES = len(UPGRADE)


class _Front(asyncio.Protocol):
    """One accepted socket: sniff, then pipe to the WebSocket server or feed a ByteEnd."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.world = front.world
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.end: ByteEnd | None = None
        self.pipe: asyncio.Transport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.end is not None:
            end = self.end
            self.world.inject(lambda: end.deliver(data))
            return
        if self.pipe is not None or self.pending:
            self._to_ws(data)
            return
        self.head += data
        if len(self.head) < SNIFF_BYTES and UPGRADE.startswith(self.head):
            return
        head, self.head = self.head, b""
        if head.startswith(UPGRADE):
            self.pending.append(head)
            asyncio.ensure_future(self._open_pipe())
        else:
            self._as_tcp(head)

    def _as_tcp(self, first: bytes) -> None:
        assert self.transport is not None
        self.front.count += 1
        end = ByteEnd(self.world, f"{self.front.name}-tcp#{self.front.count}")
        transport = self.transport

        def write(data: bytes) -> None:
            if not transport.is_closing():
                transport.write(data)

        end.connect(write, transport.close)
        self.end = end
        self.front.ends.append(end)
        term, cancel = self.front.terminal, self.front.cancel_port

        def serve() -> None:
            term.accept(end, "tcp", cancel_port=cancel)
            end.deliver(first)

        self.world.inject(serve)

    async def _open_pipe(self) -> None:
        loop = asyncio.get_running_loop()
        outer: asyncio.Transport = self.transport  # type: ignore[assignment]

        class Back(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                if not outer.is_closing():
                    outer.write(data)

            def connection_lost(self, exc: Exception | None) -> None:
                outer.close()

        try:
            pipe, _ = await loop.create_connection(Back, "127.0.0.1", self.front.ws_port)
        except OSError:
            outer.close()
            return
        self.pipe = pipe
        for chunk in self.pending:
            pipe.write(chunk)
        self.pending.clear()

    def _to_ws(self, data: bytes) -> None:
        if self.pipe is None:
            self.pending.append(data)
        elif not self.pipe.is_closing():
            self.pipe.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.end is not None:
            self.world.inject(self.end.deliver_eof)
            with contextlib.suppress(ValueError):
                self.front.ends.remove(self.end)  # only open connections are kept
        if self.pipe is not None:
            self.pipe.close()


@dataclass
class Front:
    """A listening port that takes WebSocket and TCP clients alike."""

    world: World
    terminal: ValorTerminal
    name: str
    cancel_port: bool = False
    ws_port: int = 0
    port: int = 0
    count: int = 0
    ends: list[ByteEnd] = field(default_factory=list)
    _server: Any = None
    _ws: Any = None

    async def start(self, host: str, port: int) -> Front:
        from simulator.ports.ws import serve_ws

        term, cancel = self.terminal, self.cancel_port

        def on_ws(end: Any, info: Any) -> None:
            term.accept(end, "ws", cancel_port=cancel)

        # Valor documents no path (the `/ws` of some briefs is not in the source, §A.2)
        self._ws = await serve_ws(self.world, "127.0.0.1", 0, path=None, on_connect=on_ws,
                                  name=f"{self.name}-ws")
        self.ws_port = self._ws.port
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Front(self), host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for end in self.ends:
            if not end.is_closed:
                end.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        if self._ws is not None:
            await self._ws.close()


@dataclass
class UsbPort:
    """The terminal's USB CDC line: one side of a pty pair, the POS opens :attr:`pos_path`."""

    pair: Any
    end: ByteEnd
    baud: int

    @property
    def pos_path(self) -> str:
        return str(self.pair.host_path)

    def close(self) -> None:
        self.end.close()
        self.pair.close()


def open_usb(terminal: ValorTerminal, baud: int = 9600, link_dir: str | None = None) -> UsbPort:
    """Open the USB variant on a pty pair (needs the asyncio loop running)."""
    from simulator.pacing import Pacing
    from simulator.ports.pty import PtyPair, open_serial_end

    pair = PtyPair(link_dir=link_dir, names=("valor-usb-pos", "valor-usb-terminal"))
    pair.open()
    end = open_serial_end(terminal.world, pair.device_path, name="valor.usb", baud=baud,
                          pacing=Pacing(baud))
    terminal.world.inject(lambda: terminal.accept(end, "usb"))
    return UsbPort(pair, end, baud)


def transport_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("ws", "wss"):
        return "ws"
    if scheme == "tcp":
        return "tcp"
    raise ValueError(f"a Valor address is ws://HOST:PORT or tcp://HOST:PORT, not {url!r}")


async def open_end(world: World, url: str, name: str) -> Any:
    """A world end connected to ``url`` (raw bytes for tcp://, messages for ws://)."""
    if transport_of(url) == "ws":
        from simulator.ports.ws import connect_ws

        return await connect_ws(world, url, name=name)
    from simulator.ports.tcp import connect_tcp

    parts = urlsplit(url)
    return await connect_tcp(world, parts.hostname or "127.0.0.1", parts.port or 5000,
                             name=name)


class Dialer:
    """Client role: keep a connection to the POS at ``url`` and serve what arrives on it."""

    def __init__(self, terminal: ValorTerminal, url: str) -> None:
        self.terminal = terminal
        self.url = url
        self.transport = transport_of(url)
        self.connections = 0
        self.task: asyncio.Task[None] | None = None
        self.last_error = ""

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def _sim_wait(self, seconds: float) -> None:
        """Wait on the world's clock (the redial pause is device behaviour)."""
        world = self.terminal.world
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def proc() -> Any:
            yield world.timeout(seconds)
            if not done.done():
                done.set_result(None)

        world.inject(lambda: world.process(proc()))
        await done

    async def _run(self) -> None:
        world = self.terminal.world
        while True:
            try:
                self.connections += 1
                end = await open_end(world, self.url, f"valor.dial#{self.connections}")
            except OSError as exc:
                self.last_error = str(exc)
                await self._sim_wait(self.terminal.t["redial_pause"])
                continue
            closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def watch(end: Any = end, closed: asyncio.Future[None] = closed) -> Any:
                yield end.closed
                if not closed.done():
                    closed.set_result(None)

            def serve(end: Any = end, watch: Any = watch) -> None:
                self.terminal.accept(end, self.transport)
                world.process(watch())

            world.inject(serve)
            await closed
            await self._sim_wait(self.terminal.t["redial_pause"])

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        for link in list(self.terminal.links):
            link.close()
