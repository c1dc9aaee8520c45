"""The P3 target of the conformance cases.

By default the reference PayServer runs inside the case's world in virtual mode and the
suite talks to it over in-memory links that carry exactly what each transport carries
(WebSocket messages, or the length-prefixed TCP byte stream). With ``--mode realtime``
the reference server listens on loopback sockets and the suite connects through them.
With ``--target p3=ws://HOST:PORT`` or ``--target p3=tcp://HOST:PORT`` the suite plays
the POS against that server instead; cases of the other transport are skipped, and
checks that need the reference's own ledger become informational.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from conformance.options import target_url
from protocol_servers.p3.client import P3Client, connect_local
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.gateway import Ledger
from protocol_servers.p3.server import PayServer
from simulator.world import World

Script = Callable[..., Generator[Any, Any, Any]]


def reference_config() -> ServerConfig:
    """A MOCK reader (amount-digit outcomes) and an ABECS reader with a chip+PIN card."""
    return ServerConfig(devices=(
        DeviceConfig("mockReader", "Mock reader"),
        DeviceConfig("counterReader", "Counter reader", "MIURA", "USB",
                     cards=("visa-chip-pin",)),
    ))


class P3Target:
    """One server under test and the POS clients a case opens to it."""

    def __init__(self, world: World, transport: str, url: str | None) -> None:
        self.world = world
        self.transport = transport
        self.url = url
        self.server: PayServer | None = None
        self.clients: list[P3Client] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._endpoints: Any = None
        self.resource = "devices/mockReader"
        if url is None:
            self.server = PayServer(world, reference_config())
        if world.mode == "realtime":
            self._loop = asyncio.new_event_loop()
            if self.server is not None:
                from protocol_servers.p3 import live

                self._loop.run_until_complete(live.attach_readers(self.server))
                self._endpoints = self._loop.run_until_complete(
                    live.start(self.server, "127.0.0.1", 0, 0))
                self.url = (self._endpoints.ws_url if transport == "ws"
                            else self._endpoints.tcp_url)

    @property
    def reference(self) -> bool:
        """True when the server is our reference (its ledger and state are visible)."""
        return self.server is not None

    @property
    def ledger(self) -> Ledger | None:
        return None if self.server is None else self.server.gateway.ledger

    def client(self, name: str = "pos") -> P3Client:
        if self._loop is None:
            assert self.server is not None
            c = connect_local(self.server, self.transport, name)
        else:
            from protocol_servers.p3 import live

            assert self.url is not None
            c = self._loop.run_until_complete(live.connect(self.world, self.url, name))
        self.clients.append(c)
        return c

    def run(self, script: Script, *args: Any) -> Any:
        proc = self.world.process(script(*args))
        if self._loop is None:
            return self.world.run(until=proc)
        return self._loop.run_until_complete(self.world.run_realtime(until=proc))

    def settle(self, seconds: float) -> None:
        """Let the world run on (e.g. for a server to notice a closed connection)."""
        def idle() -> Generator[Any, Any, Any]:
            yield self.world.timeout(seconds)
        self.run(idle)

    def close(self) -> None:
        if self._loop is None:
            return
        for c in self.clients:
            c.end.close()
        if self._endpoints is not None:
            self._loop.run_until_complete(self._endpoints.close())
        if self.server is not None:
            self.server.close()
        self._loop.close()


@pytest.fixture(params=["ws", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def p3(request: pytest.FixtureRequest, world: World, transport: str) -> Iterator[P3Target]:
    url = target_url(request.config, "p3")
    if url is not None:
        from protocol_servers.p3.live import transport_of

        if transport_of(url) != transport:
            pytest.skip(f"the target speaks {transport_of(url)} only")
    target = P3Target(world, transport, url)
    yield target
    target.close()
