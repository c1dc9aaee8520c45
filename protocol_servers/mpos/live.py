"""The bridge on real sockets: the WebSocket endpoint ``/mpos`` for a running world.

``serve_bridge`` puts :meth:`MposBridgeServer.accept` behind a WebSocket server on
127.0.0.1 (``ws://``, or ``wss://`` with a context from :mod:`.tls`). Paths other than
``/mpos`` are refused at the handshake with 404, as websocket-sharp refused paths with no
service behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol_servers.mpos.codec import frame_label

if TYPE_CHECKING:
    import ssl

    from protocol_servers.mpos.server import MposBridgeServer

PATH = "/mpos"
DEFAULT_PORT = 2000


async def serve_bridge(
    server: MposBridgeServer,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> Any:
    """Serve ``server`` on ``ws(s)://host:port/mpos``; returns the port's server object
    (``.url``, ``.port``, ``await .close()``)."""
    from simulator.ports.ws import serve_ws

    return await serve_ws(
        server.world,
        host,
        port,
        path=PATH,
        on_connect=server.accept,
        ssl_context=ssl_context,
        labeler=frame_label,
        name="bridge.ws",
        # idle clients are pinged; one that stops answering is closed (1011) and its
        # connection ends like any other, so nothing waits on a dead socket for ever
        ping_interval=server.timings["ws_ping_interval"],
        ping_timeout=server.timings["ws_ping_timeout"],
    )
