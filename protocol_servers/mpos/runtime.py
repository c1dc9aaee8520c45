"""Starting the bridge on the wall clock: ptys, a WebSocket, the merchant API.

Used by the server's contract (:mod:`.contract`: ``cardloop serve mpos``, the suite's
``--serve mpos``, the demo, the benchmark) and the realtime tests, so they all run the
same assembly. Must be awaited inside the asyncio loop that drives the world.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol_servers.mpos.lab import MposLab, build_lab
from protocol_servers.mpos.profiles import DOCUMENTED, Profile

if TYPE_CHECKING:
    from simulator.ports.http import HttpServer
    from simulator.world import World


@dataclass
class Running:
    world: World
    lab: MposLab
    ws: Any
    url: str
    merchant: HttpServer | None = None
    merchant_url: str | None = None
    ca_path: Path | None = None
    extra: list[Any] = field(default_factory=list)

    @property
    def pinpad_ports(self) -> list[str]:
        return [r.port for r in self.lab.readers]

    async def close(self) -> None:
        for end in list(self.lab.server.connections):
            end.end.close()
        await self.ws.close()
        if self.merchant is not None:
            await self.merchant.close()
        for r in self.lab.readers:
            r.pinpad.end.close()
        self.lab.close()


async def start_bridge(
    world: World,
    *,
    readers: int = 1,
    cards: Iterable[Any] | Callable[[int], Iterable[Any]] = (),
    behaviour: Any = None,
    profile: Profile = DOCUMENTED,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_ca: str | os.PathLike[str] | None = None,
    link_dir: str | os.PathLike[str] | None = None,
    serial: Iterable[str] = (),
    merchant_port: int | None = 0,
    scan_ports: bool = False,
    backend: Any = None,
) -> Running:
    """Pinpads on ptys, the bridge on ``ws(s)://host:port/mpos``, the merchant API on
    ``http://127.0.0.1:<merchant_port>`` (None: no merchant API)."""
    from protocol_servers.merchant_api import serve_merchant_http
    from protocol_servers.mpos.live import serve_bridge

    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the reference bridge listens on loopback only")
    # a callable gives each reader its own cards (every reader gets the cards asked for,
    # each its own copies: one card object can not sit in two readers); a plain list
    # goes to reader 0, as before
    card_source: Any = cards if callable(cards) else (
        lambda i, listed=list(cards): listed if i == 0 else [])
    lab = build_lab(
        world,
        readers=readers,
        cards=card_source,
        behaviour=behaviour,
        profile=profile,
        link_dir=link_dir,
        extra_serial=serial,
        backend=backend,
    )
    if scan_ports:
        lab.server.devices.scan_os_ports()
    ssl_context = None
    ca_path = None
    if tls_ca is not None:
        from protocol_servers.mpos.tls import make_tls

        material = make_tls(tls_ca, host)
        ssl_context, ca_path = material.context, material.ca_path
    try:
        ws = await serve_bridge(lab.server, host, port, ssl_context)
    except BaseException:
        lab.close()
        raise
    running = Running(world, lab, ws, ws.url, ca_path=ca_path)
    if merchant_port is not None:
        srv = await serve_merchant_http(lab.backend, "127.0.0.1", merchant_port)
        running.merchant = srv
        running.merchant_url = srv.url
    return running
