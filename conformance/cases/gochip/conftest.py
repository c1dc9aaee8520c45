"""The GoChip target of the conformance cases.

By default the reference agent runs inside the case's world in virtual mode and the
suite plays the POS over in-memory message links carrying exactly the WebSocket text
frames. With ``--mode realtime`` the reference listens on a loopback WebSocket (port
0) with its readers on ptys. With ``--target gochip=ws://HOST:PORT/middleware`` the
suite plays the POS against that agent: cases that need to choose the card or read the
reference's ledger then skip (or grade only what the wire shows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from conformance.options import target_url
from protocol_servers.gochip.agent import Agent, AgentConfig
from protocol_servers.gochip.client import GoChipClient, connect_local
from simulator.world import World

Script = Callable[..., Generator[Any, Any, Any]]


class GoChipTarget:
    """One agent under test and the POS clients a case opens to it."""

    def __init__(self, world: World, url: str | None, config: AgentConfig | None = None
                 ) -> None:
        self.world = world
        self.url = url
        self.agent: Agent | None = None
        self.clients: list[GoChipClient] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: Any = None
        self.config = config or AgentConfig(readers=("reader0", "reader1"))
        if world.mode == "realtime":
            self._loop = asyncio.new_event_loop()
        if url is None:
            self._make_reference()

    def _make_reference(self) -> None:
        # realtime worlds get no virtual readers from the Agent: ptys are opened here
        self.agent = Agent(self.world, self.config)
        if self._loop is None:
            return
        from protocol_servers.gochip import live

        agent = self.agent

        async def start() -> Any:
            live.attach_readers(agent)
            return await live.start(agent, "127.0.0.1", 0)

        self._ws = self._loop.run_until_complete(start())
        self.url = self._ws.url

    @property
    def reference(self) -> bool:
        """True when the agent is our reference (its ledger and readers are visible)."""
        return self.agent is not None

    def present(self, card: str, reader: str = "reader0", **customer: Any) -> None:
        """The customer holds ``card`` next (reference only; skips against a target)."""
        if self.agent is None:
            pytest.skip("the case chooses the card: reference agent only")
        self.agent.readers[reader].present(card, **customer)

    def client(self, name: str = "pos") -> GoChipClient:
        if self._loop is None:
            assert self.agent is not None
            c = connect_local(self.agent, name)
        else:
            from protocol_servers.gochip import live

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
        def idle() -> Generator[Any, Any, Any]:
            yield self.world.timeout(seconds)
        self.run(idle)

    def close(self) -> None:
        if self._loop is None:
            return
        for c in self.clients:
            c.end.close()
        if self._ws is not None:
            self._loop.run_until_complete(self._ws.close())
        if self.agent is not None:
            self.agent.close()
        self._loop.close()


@pytest.fixture
def gochip(request: pytest.FixtureRequest, world: World) -> Iterator[GoChipTarget]:
    target = GoChipTarget(world, target_url(request.config, "gochip"))
    yield target
    target.close()
