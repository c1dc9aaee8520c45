"""The Connect server on real sockets: ``/pac`` and ``/pat`` through ``simulator.ports.ws``.

Realtime only. The WebSocket port refuses a bad handshake before the upgrade with the
server's own rule (:meth:`ConnectServer.check`: 401 or 400 and ``{"userMessage": …}``),
pings every ``ping_interval`` and closes with 1011 when no pong comes within
``pong_timeout`` (the timings file; websockets counts them in wall seconds, so they are
scaled by the world's factor). ``tls=True`` makes a CA and a server certificate at
start and serves ``wss://``.

Terminals' pinpads: in realtime mode each virtual pinpad sits on a pty pair (a real
serial line, as a PDQ's reader would be), or a real ABECS pinpad is named by path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from protocol_servers.connect.card_machine import CardMachine, make_machine
from protocol_servers.connect.server import ConnectServer, ServerConfig
from simulator.world import World


@dataclass
class Endpoints:
    pac_url: str
    pat_url: str
    server: ConnectServer
    ca_path: str | None = None
    pinpads: dict[str, str] = field(default_factory=dict)
    _ws: Any = None

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        self.server.close()
        # the certificate was made for this run's key, which dies with the server
        if self.ca_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.ca_path)


def build_machines(world: World, config: ServerConfig, acquirer: Any,
                   pinpads: str | dict[str, str] = "pty",
                   link_dir: str | None = None) -> tuple[dict[str, CardMachine], dict[str, str]]:
    """One card machine per terminal: ``"pty"``, ``"memory"``, or ``{tid: serial path}``
    (the others on ptys). Returns the machines and where each pinpad is."""
    machines: dict[str, CardMachine] = {}
    where: dict[str, str] = {}
    if pinpads == "memory":
        return machines, {t.tid: "in memory" for t in config.terminals}
    real = pinpads if isinstance(pinpads, dict) else {}
    for spec in config.terminals:
        if spec.tid in real:
            machines[spec.tid] = make_machine(world, spec.tid, acquirer, [], kind="serial",
                                              device=real[spec.tid], currency=spec.currency)
            where[spec.tid] = real[spec.tid]
        else:
            behaviour = {"presentation": spec.presentation} if spec.presentation else {}
            machine = make_machine(world, spec.tid, acquirer, [spec.card], behaviour,
                                   kind="pty", link_dir=link_dir, currency=spec.currency)
            machines[spec.tid] = machine
            where[spec.tid] = machine.end.port
    return machines, where


async def start(world: World, config: ServerConfig | None = None, host: str = "127.0.0.1",
                port: int = 0, tls: bool = False, acquirer: Any = None,
                pinpads: str | dict[str, str] = "pty", link_dir: str | None = None) -> Endpoints:
    from simulator.ports.ws import serve_ws
    from virtual_devices.acquirer.host import AcquirerHost

    config = config or ServerConfig()
    acquirer = acquirer if acquirer is not None else AcquirerHost()
    machines, where = build_machines(world, config, acquirer, pinpads, link_dir)
    server = ConnectServer(world, config, acquirer, machines)
    ssl_context = None
    ca_path: str | None = None
    if tls:
        from protocol_servers.mpos.tls import make_tls

        fd, ca_path = tempfile.mkstemp(prefix="cardloop-connect-ca-", suffix=".pem")
        os.close(fd)
        ssl_context = make_tls(ca_path, host).context

    def check(info: Any) -> tuple[int, Any] | None:
        return server.check(info.path, info.query)

    def on_connect(end: Any, info: Any) -> None:
        server.attach(end, info.path, info.query)

    t = server.timings
    ws = await serve_ws(world, host, port, path=("/pac", "/pat"), on_connect=on_connect,
                        ssl_context=ssl_context, check_request=check, name="connect",
                        ping_interval=t["ping_interval"] * world.factor,
                        ping_timeout=t["pong_timeout"] * world.factor)
    scheme = "wss" if tls else "ws"
    base = f"{scheme}://{host}:{ws.port}"
    return Endpoints(server.url(base, "/pac"), server.url(base, "/pat"), server, ca_path,
                     where, ws)


async def connect(world: World, url: str, name: str = "pos", **client: Any) -> Any:
    """An EPoS over a real WebSocket to ``url`` (raises HandshakeRefused on 401/400)."""
    from protocol_servers.connect.client import ConnectClient
    from simulator.ports.ws import connect_ws

    version = "v0" if "api-version=v0" in url or "api-version" not in url else "v1"
    end = await connect_ws(world, url, name=name)
    return ConnectClient(world, end, version, **client)
