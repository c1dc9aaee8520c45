"""The PayServer on real sockets: WebSocket and framed TCP through ``simulator.ports``.

Realtime only. The ports turn socket traffic into ends inside the world; the server's
behaviour is the same :meth:`PayServer.accept` / :meth:`PayServer.accept_stream` that
in-memory links use in virtual mode. TCP is taken as a raw byte stream so that the
P3 frame decoder (with its answers to bad lengths and slow frames) sees every byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from protocol_servers.p3 import envelope
from protocol_servers.p3.client import P3Client
from protocol_servers.p3.server import PayServer
from simulator.streams import ByteEnd
from simulator.world import World


@dataclass
class Endpoints:
    ws_url: str
    tcp_url: str
    _ws: Any
    _tcp: Any

    async def close(self) -> None:
        await self._ws.close()
        await self._tcp.close()


async def start(server: PayServer, host: str | None = None, ws_port: int | None = None,
                tcp_port: int | None = None) -> Endpoints:
    """Listen on both transports; port 0 picks a free one (DECISIONS.md, common rules)."""
    from simulator.framing import RawFraming
    from simulator.ports.tcp import serve_tcp
    from simulator.ports.ws import serve_ws

    cfg = server.config
    host = host or cfg.host
    world = server.world

    def on_ws(end: Any, info: Any) -> None:
        server.accept(end, info)

    def on_tcp(end: Any, info: Any) -> None:
        server.accept_stream(end, info)

    # P3 clients connect to the bare root (payworks-p3.md §2.1); any path is served
    ws = await serve_ws(world, host, cfg.websocket_port if ws_port is None else ws_port,
                        path=None, on_connect=on_ws, name="payserver-ws",
                        labeler=envelope.label, max_size=cfg.max_frame_bytes,
                        # idle clients are pinged and closed (1011) when they stop answering
                        ping_interval=server.timings["ws_ping_interval"],
                        ping_timeout=server.timings["ws_ping_timeout"])
    tcp = await serve_tcp(world, host, cfg.tcp_port if tcp_port is None else tcp_port,
                          framing=RawFraming, on_connect=on_tcp, name="payserver-tcp",
                          labeler=envelope.stream_label)
    return Endpoints(f"ws://{host}:{ws.port}", f"tcp://{host}:{tcp.port}", ws, tcp)


def transport_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("ws", "wss"):
        return "ws"
    if scheme == "tcp":
        return "tcp"
    raise ValueError(f"a P3 target is ws://host:port or tcp://host:port, not {url!r}")


async def connect(world: World, url: str, name: str = "pos") -> P3Client:
    """A POS client over a real socket to ``url`` (``ws://`` or ``tcp://``)."""
    if transport_of(url) == "ws":
        from simulator.ports.ws import connect_ws

        end = await connect_ws(world, url, name=name, labeler=envelope.label)
        return P3Client(world, end, name)
    from simulator.framing import RawFraming
    from simulator.ports.tcp import connect_tcp

    parts = urlsplit(url)
    bend = await connect_tcp(world, parts.hostname or "127.0.0.1", parts.port or 8081,
                             framing=RawFraming, name=name, labeler=envelope.stream_label)
    assert isinstance(bend, ByteEnd)
    return P3Client(world, bend, name)


async def attach_readers(server: PayServer, link_dir: str | None = None) -> list[tuple[str, str]]:
    """Open every non-MOCK device's reader: a virtual pinpad on a pty, or the real serial
    port the configuration names. Returns ``(resource, serial path)`` per reader."""
    from protocol_servers.p3.abecs_reader import pty_reader, serial_reader

    out: list[tuple[str, str]] = []
    for dev in server.devices.values():
        cfg = dev.config
        if cfg.type == "MOCK" or dev.reader is not None:
            continue
        if cfg.serial_port is not None:
            dev.reader = serial_reader(server.world, cfg.identifier, server.acquirer,
                                       cfg.serial_port, cfg.baud)
        else:
            dev.reader = pty_reader(server.world, cfg.identifier, server.acquirer, cfg.cards,
                                    link_dir, cfg.customer)
        where = dev.reader.port_path or ""
        if dev.reader.host_path:
            where += f" (server side {dev.reader.host_path})"
        out.append((cfg.resource, where))
    return out
