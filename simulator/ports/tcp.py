"""TCP ports: a server and a client, raw or framed, as world ends.

Raw TCP (``framing=RawFraming`` or None) gives a :class:`~simulator.streams.ByteEnd`:
chunks arrive as the OS delivers them. Any other framing gives a :class:`FramedEnd`,
a MessageEnd that carries whole frames (``bytes``) and encodes what it sends.

How a framing error reaches a server: the codec's :class:`~simulator.framing.FramingError`
is delivered *as an item* on the end, in stream order after the frames before it
(``msg = yield end.recv()``; ``isinstance(msg, FramingError)``). The connection
stays open, so the server can answer in its protocol's own error shape and then
close. After an unrecoverable error (a bad or oversized length prefix) later input
has no frame boundaries: it is discarded and noted in the transcript, once per
chunk. The transcript shows the offending bytes as an ``rx`` entry labelled
``framing error: ...``.

Framing codecs are given as a class (``LengthPrefixFraming``), a factory, or an
instance used as a template (each connection gets a deep copy, so
``LengthPrefixFraming(max_length=4096)`` works).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator.faults import Delivery, Outcome
from simulator.framing import Framing, FramingError, RawFraming
from simulator.ports.info import ConnectionInfo
from simulator.streams import ByteEnd, MessageEnd

if TYPE_CHECKING:
    from simulator.streams import Labeler
    from simulator.world import World

FramingSpec = type[Framing] | Callable[[], Framing] | Framing | None
OnConnect = Callable[[Any, ConnectionInfo], Any]


def _make_codec(spec: FramingSpec) -> Framing:
    if spec is None:
        return RawFraming()
    if isinstance(spec, Framing):
        return copy.deepcopy(spec)
    return spec()


class FramedEnd(MessageEnd):
    """A MessageEnd over a framed byte stream; items may be :class:`FramingError`."""

    def __init__(
        self, world: World, name: str, codec: Framing, labeler: Labeler | None = None
    ) -> None:
        super().__init__(world, name, labeler)
        self.codec = codec

    def send(self, message: str | bytes) -> None:
        """Send one frame; a payload the framing cannot carry raises FramingError here."""
        frame = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        self.codec.encode(frame)
        super().send(frame)

    def deliver(self, item: Any) -> None:
        if isinstance(item, FramingError):
            # errors are not payload: faults do not apply, order is kept
            if not self._at_eof:
                self._dispatch("rx", Outcome([Delivery(item)]))  # type: ignore[arg-type]
            return
        super().deliver(item)

    def _raw(self, item: Any) -> bytes | str | None:
        if isinstance(item, FramingError):
            return item.data
        return item  # type: ignore[no-any-return]

    def _label(self, item: Any) -> str | Callable[[], str]:
        if isinstance(item, FramingError):
            return f"framing error: {item}"
        return super()._label(item)


class _TcpProtocol(asyncio.Protocol):
    """One TCP connection feeding one end."""

    def __init__(
        self,
        world: World,
        name: str,
        framing: FramingSpec,
        labeler: Labeler | None,
        on_connect: OnConnect | None,
    ) -> None:
        self.world = world
        self.codec = _make_codec(framing)
        self.raw = isinstance(self.codec, RawFraming)
        self.end: ByteEnd | FramedEnd
        if self.raw:
            self.end = ByteEnd(world, name, labeler)
        else:
            self.end = FramedEnd(world, name, self.codec, labeler)
        self.on_connect = on_connect
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.end.connect(self._transmit, self._close)  # type: ignore[arg-type]
        peer = transport.get_extra_info("peername")
        info = ConnectionInfo(peer=peer, transport="tcp")
        self.world.transcript.event(self.end.name, f"tcp connected ({self.codec.name})")
        if self.on_connect is not None:
            cb = self.on_connect
            self.world.inject(lambda: cb(self.end, info))
        if not self.ready.done():
            self.ready.set_result(None)

    def _transmit(self, item: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.raw:
            self.transport.write(item)
            return
        try:
            wire = self.codec.encode(item)
        except FramingError as exc:
            # only a piece a fault produced can get here (send() checked the frame)
            self.world.transcript.event(self.end.name, f"piece not sendable, dropped: {exc}")
            return
        self.transport.write(wire)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        end = self.end
        if self.raw:
            self.world.inject(lambda: end.deliver(data))
            return
        if self.codec.broken:
            n = len(data)
            self.world.inject(
                lambda: self.world.transcript.event(
                    end.name, f"{n} byte(s) ignored after an unrecoverable framing error"
                )
            )
            return
        items = self.codec.events(data)
        if items:

            def deliver_all() -> None:
                for i in items:
                    end.deliver(i)  # type: ignore[arg-type]

            self.world.inject(deliver_all)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.world.inject(self.end.deliver_eof)


class TcpServer:
    """A listening TCP server; ``port``, ``ends`` and ``await close()``."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        sock = server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        self.ends: list[ByteEnd | FramedEnd] = []

    async def close(self) -> None:
        self._server.close()
        for end in self.ends:
            if not end.is_closed:
                end.close()
        await self._server.wait_closed()


async def serve_tcp(
    world: World,
    host: str,
    port: int,
    framing: FramingSpec = RawFraming,
    on_connect: OnConnect | None = None,
    *,
    name: str = "server",
    labeler: Labeler | None = None,
) -> TcpServer:
    """Listen on ``host:port`` (0 = any free port); each client is ``on_connect(end, info)``.

    Ends are named ``f"{name}#{n}"`` (n counts from 1).
    """
    if world.mode != "realtime":
        raise ValueError("TCP ports need a realtime world (World(mode='realtime'))")
    loop = asyncio.get_running_loop()
    counter = 0
    holder: list[TcpServer] = []

    def factory() -> _TcpProtocol:
        nonlocal counter
        counter += 1
        proto = _TcpProtocol(world, f"{name}#{counter}", framing, labeler, on_connect)
        if holder:
            server_ends = holder[0].ends
            if len(server_ends) >= 64:  # let closed connections go (bounded memory)
                server_ends[:] = [e for e in server_ends if not e.is_closed]
            server_ends.append(proto.end)
        return proto

    server = await loop.create_server(factory, host, port)
    tcp_server = TcpServer(server)
    holder.append(tcp_server)
    return tcp_server


async def connect_tcp(
    world: World,
    host: str,
    port: int,
    framing: FramingSpec = RawFraming,
    name: str = "pos",
    *,
    labeler: Labeler | None = None,
) -> ByteEnd | FramedEnd:
    """Connect to a TCP server; raw framing gives a ByteEnd, any other a FramedEnd."""
    if world.mode != "realtime":
        raise ValueError("TCP ports need a realtime world (World(mode='realtime'))")
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: _TcpProtocol(world, name, framing, labeler, None), host, port
    )
    await proto.ready
    return proto.end


__all__ = ["FramedEnd", "TcpServer", "connect_tcp", "serve_tcp"]
