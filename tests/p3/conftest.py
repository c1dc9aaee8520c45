"""A PayServer and POS clients in one virtual world, over either transport."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import pytest

from protocol_servers.p3.client import P3Client, connect_local
from protocol_servers.p3.config import ServerConfig
from protocol_servers.p3.server import PayServer
from simulator.world import World


@dataclass
class Rig:
    world: World
    server: PayServer
    transport: str

    def client(self, name: str = "pos") -> P3Client:
        return connect_local(self.server, self.transport, name)

    def run(self, script: Callable[..., Generator[Any, Any, Any]], *args: Any) -> Any:
        proc = self.world.process(script(*args))
        self.world.run(until=proc)
        return proc.value


def make_rig(seed: int = 7, transport: str = "ws") -> Rig:
    world = World(seed=seed)
    return Rig(world, PayServer(world, ServerConfig()), transport)


@pytest.fixture(params=["ws", "tcp"])
def rig(request: pytest.FixtureRequest) -> Rig:
    return make_rig(7, request.param)


@pytest.fixture
def rig_factory() -> Callable[..., Rig]:
    return make_rig
