"""WebSocket ports: a server and a client whose connections are world MessageEnds.

Built on the ``websockets`` asyncio API. Everything runs on the loop that drives
``World.run_realtime``: a message that arrives enters the world with
``World.inject`` at the current simulated time; a message a SimPy process sends is
queued to a per-connection sender task, so sends keep their order and never block
the world. Text frames are ``str``, binary frames ``bytes``.

The server can refuse a handshake with an HTTP status and a JSON body
(``check_request``), as Paymentsense Connect does for a bad token; keep-alive pings
(``ping_interval``/``ping_timeout``) are websockets' own, which closes with 1011 when
no pong comes back. After end of stream, ``end.close_code`` and ``end.close_reason``
say how the peer (or the keep-alive) closed the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from simulator.ports.info import ConnectionInfo
from simulator.streams import MessageEnd

if TYPE_CHECKING:
    from simulator.streams import Labeler
    from simulator.world import World

OnConnect = Callable[[MessageEnd, ConnectionInfo], Any]
CheckRequest = Callable[[ConnectionInfo], "tuple[int, Any] | None"]

_SENTINEL = object()


class HandshakeRefused(ConnectionError):
    """The server answered the upgrade request with an HTTP error."""

    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        text = body.decode("utf-8", "replace").strip()
        super().__init__(f"WebSocket handshake refused with HTTP {status}: {text[:200]}")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class WsEnd(MessageEnd):
    """A MessageEnd over a WebSocket; ``close(code, reason)`` sends that close frame."""

    def __init__(self, world: World, name: str, labeler: Labeler | None = None) -> None:
        super().__init__(world, name, labeler)
        self.close_code: int | None = None
        self.close_reason: str = ""
        #: the close code this side sent (e.g. 1011 when the keep-alive gave up), if any
        self.local_close_code: int | None = None
        self._close_with: tuple[int, str] = (1000, "")

    def close(self, code: int = 1000, reason: str = "") -> None:  # type: ignore[override]
        self._close_with = (code, reason)
        super().close()


class _Link:
    """Pumps one websockets connection to and from a :class:`WsEnd`."""

    def __init__(self, world: World, conn: ServerConnection | ClientConnection, end: WsEnd):
        self.world = world
        self.conn = conn
        self.end = end
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        end.connect(self._queue.put_nowait, self._close_requested)
        self._sender = asyncio.ensure_future(self._send_loop())

    def _close_requested(self) -> None:
        self._queue.put_nowait(_SENTINEL)

    async def _send_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is _SENTINEL:
                code, reason = self.end._close_with
                with contextlib.suppress(Exception):
                    await self.conn.close(code, reason)
                return
            try:
                await self.conn.send(item)
            except ConnectionClosed:
                return

    async def run(self) -> None:
        """Receive until the connection closes; then end of stream in the world."""
        try:
            async for message in self.conn:
                self.world.inject(partial(self.end.deliver, message))
        except ConnectionClosed:
            pass
        finally:
            self.end.close_code = self.conn.close_code
            self.end.close_reason = self.conn.close_reason or ""
            sent = self.conn.protocol.close_sent
            self.end.local_close_code = sent.code if sent is not None else None
            code = self.end.close_code
            if not self.end.is_closed:
                self.world.transcript.event(self.end.name, f"websocket closed by peer, code {code}")
            self.world.inject(self.end.deliver_eof)
            if not self._sender.done():
                self._queue.put_nowait(_SENTINEL)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._sender, 5.0)


def _info(request: Request, peer: Any) -> ConnectionInfo:
    parts = urlsplit(request.path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True)[::-1])
    return ConnectionInfo(
        path=parts.path, query=query, headers=request.headers, peer=peer, transport="ws"
    )


def _json_response(conn: ServerConnection, status: int, body: Any) -> Response:
    response = conn.respond(status, "")
    payload = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    headers = Headers(response.headers)
    del headers["Content-Type"]
    del headers["Content-Length"]
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(len(payload))
    return Response(response.status_code, response.reason_phrase, headers, payload)


def _offered_subprotocols(headers: Headers) -> list[str]:
    """The client's ``Sec-WebSocket-Protocol`` offers, in order (RFC 6455 §4.1)."""
    return [p.strip() for value in headers.get_all("Sec-WebSocket-Protocol")
            for p in value.split(",") if p.strip()]


#: ends of finished connections a server keeps for inspection before letting them go
KEEP_CLOSED_ENDS = 64


class WsServer:
    """A running WebSocket server; ``port``, ``url``, ``ends`` and ``await close()``."""

    def __init__(self, world: World, server: Server, path: str | None, scheme: str) -> None:
        self.world = world
        self._server = server
        sock = next(iter(server.sockets))
        self.host, self.port = sock.getsockname()[:2]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{scheme}://{host}:{self.port}{path or '/'}"
        self.ends: list[WsEnd] = []

    def keep(self, end: WsEnd) -> None:
        """Remember a connection's end; closed ones are let go once there are many, so
        memory does not grow with the number of connections ever served."""
        if len(self.ends) >= KEEP_CLOSED_ENDS:
            self.ends = [e for e in self.ends if not e.is_closed]
        self.ends.append(end)

    async def close(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 10.0)


async def serve_ws(
    world: World,
    host: str,
    port: int,
    path: str | Iterable[str] | None = "/mpos",
    on_connect: OnConnect | None = None,
    ssl_context: ssl.SSLContext | None = None,
    check_request: CheckRequest | None = None,
    *,
    name: str = "server",
    labeler: Labeler | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    close_timeout: float | None = 10.0,
    max_size: int | None = 1 << 20,
    subprotocols: Iterable[str] = (),
) -> WsServer:
    """Listen for WebSocket clients; each becomes ``on_connect(end, info)`` in the world.

    ``path`` (a path, several, or None for any) refuses other paths with HTTP 404 and
    a JSON body. ``check_request(info)`` runs in the world before the upgrade and may
    return ``(status, json_body)`` to refuse it. Connection ends are named
    ``f"{name}#{n}"`` (n counts from 1) so fault patterns can address them.
    Keep-alive pings are off unless ``ping_interval`` is given (wall seconds, as
    websockets counts them); a missing pong closes with 1011 (``end.local_close_code``).
    ``close_timeout`` bounds the wait for the peer's close frame.

    ``subprotocols`` are the ``Sec-WebSocket-Protocol`` values the server speaks (none by
    default). A client that offers only others is refused with HTTP 400 and a body that
    names what it asked for and what is spoken: left to the library, the upgrade would
    succeed without the header and the client would drop it with no reason given.
    """
    if world.mode != "realtime":
        raise ValueError("WebSocket ports need a realtime world (World(mode='realtime'))")
    paths = {path} if isinstance(path, str) else (None if path is None else set(path))
    spoken = tuple(subprotocols)
    counter = 0
    server_ref: list[WsServer] = []

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        info = _info(request, conn.remote_address)
        if paths is not None and info.path not in paths:
            return _json_response(conn, 404, {"error": f"no WebSocket service at {info.path}"})
        offered = _offered_subprotocols(request.headers)
        if offered and not set(offered) & set(spoken):
            speaks = ", ".join(spoken) if spoken else "none"
            text = (f"unsupported WebSocket subprotocol {', '.join(offered)}: this server "
                    f"speaks {speaks}; connect without Sec-WebSocket-Protocol")
            world.transcript.event(name, f"handshake refused with HTTP 400: {text}")
            return _json_response(conn, 400, {"error": text})
        if check_request is None:
            return None
        answer: list[tuple[int, Any] | None] = []
        world.inject(lambda: answer.append(check_request(info)))
        refusal = answer[0] if answer else None
        if refusal is None:
            return None
        status, body = refusal
        world.transcript.event(name, f"handshake refused with HTTP {status}")
        return _json_response(conn, status, body)

    async def handler(conn: ServerConnection) -> None:
        nonlocal counter
        counter += 1
        assert conn.request is not None
        info = _info(conn.request, conn.remote_address)
        end = WsEnd(world, f"{name}#{counter}", labeler)
        link = _Link(world, conn, end)
        if server_ref:
            server_ref[0].keep(end)
        world.transcript.event(end.name, f"websocket connected on {info.path}")
        if on_connect is not None:
            world.inject(lambda: on_connect(end, info))
        await link.run()

    kwargs: dict[str, Any] = {
        "process_request": process_request,
        "ssl": ssl_context,
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "close_timeout": close_timeout,
        "max_size": max_size,
        # no permessage-deflate: POS messages are small, and each compressing connection
        # holds about 300 KB of zlib state, which a thousand POS connections turn into
        # hundreds of megabytes (memory per connection must stay bounded and small)
        "compression": None,
    }
    if spoken:
        kwargs["subprotocols"] = list(spoken)
    server = await serve(handler, host, port, **kwargs)
    first = sorted(paths)[0] if paths else "/"
    ws_server = WsServer(world, server, first, "wss" if ssl_context else "ws")
    server_ref.append(ws_server)
    return ws_server


async def connect_ws(
    world: World,
    url: str,
    name: str = "pos",
    *,
    labeler: Labeler | None = None,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    open_timeout: float = 10.0,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_size: int | None = 1 << 20,
    subprotocols: Iterable[str] = (),
) -> WsEnd:
    """Connect to a WebSocket server; the connection is a :class:`WsEnd` of the world.

    A refused handshake raises :class:`HandshakeRefused` with the status and body.
    """
    if world.mode != "realtime":
        raise ValueError("WebSocket ports need a realtime world (World(mode='realtime'))")
    try:
        conn = await connect(
            url,
            additional_headers=headers,
            ssl=ssl_context,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            max_size=max_size,
            subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
        )
    except InvalidStatus as exc:
        resp = exc.response
        raise HandshakeRefused(resp.status_code, bytes(resp.body or b""), resp.headers) from None
    end = WsEnd(world, name, labeler)
    link = _Link(world, conn, end)
    world.transcript.event(name, "websocket connected")
    task = asyncio.ensure_future(link.run())
    end._ws_task = task  # type: ignore[attr-defined]  # keep the pump alive
    return end


__all__ = ["ConnectionInfo", "HandshakeRefused", "WsEnd", "WsServer", "connect_ws", "serve_ws"]
