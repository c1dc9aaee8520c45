"""The agent on a real WebSocket (realtime mode) through ``simulator.ports.ws``.

The port turns each connection into a message end inside the world; the agent's
behaviour is the same :meth:`~agent.Agent.accept` an in-memory link gets in virtual
mode. Readers are virtual pinpads on ptys, or real ABECS pinpads on serial ports.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.gochip import frames
from protocol_servers.gochip.agent import Agent
from protocol_servers.gochip.client import GoChipClient
from simulator.world import World

PATH = "/middleware"  # §B.2: ws://localhost:8080/middleware (two public clients)
DEFAULT_PORT = 8080


async def start(agent: Agent, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Any:
    """Listen on ``ws://host:port/middleware``; port 0 picks a free one."""
    from simulator.ports.ws import serve_ws

    return await serve_ws(agent.world, host, port, path=PATH, on_connect=agent.accept,
                          name="gochip-ws", labeler=frames.guarded_label(agent.world.redactor),
                          max_size=frames.MAX_FRAME_CHARS * 4)


def attach_readers(agent: Agent, link_dir: str | None = None,
                   serial: dict[str, str] | None = None) -> dict[str, str]:
    """Open each configured reader: a real pinpad where ``serial`` names a port for it,
    else a virtual pinpad on a pty. Needs the asyncio loop running. Returns name -> path."""
    from protocol_servers.gochip import card_reader

    serial = serial or {}
    out: dict[str, str] = {}
    for name in agent.config.readers:
        if name in agent.readers:
            continue
        if name in serial:
            reader = card_reader.on_serial(agent.world, name, agent.acquirer, serial[name],
                                           agent.settings.currency_code)
        else:
            reader = card_reader.on_pty(agent.world, name, agent.acquirer, agent.config.cards,
                                        link_dir, agent.settings.currency_code)
        agent.readers[name] = reader
        out[name] = reader.port
    return out


async def connect(world: World, url: str, name: str = "pos") -> GoChipClient:
    """A POS over a real WebSocket to ``url``."""
    from simulator.ports.ws import connect_ws

    end = await connect_ws(world, url, name=name,
                          labeler=frames.guarded_label(world.redactor))
    return GoChipClient(world, end, name)
