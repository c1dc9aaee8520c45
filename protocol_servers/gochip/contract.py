"""The GoChip agent's entry in the server contract (``cardloop serve gochip``).

Options: ``--port`` (8080 by default, §B.2; 0 picks a free one), ``--gateway``
(``first-data`` or ``tsys``: whose test amounts decide, §B.6), ``--card`` (catalogue
cards the customer presents, in turn), ``--readers`` and ``--serial NAME=PATH`` (a real
ABECS pinpad for reader NAME). Control actions: ``next-card`` and ``cardholder``.
"""

from __future__ import annotations

import argparse
import errno
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ControlAction, Started

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Agent
    from simulator.world import World

BEHAVIOUR_KEYS = ("pin", "cancel_at", "walk_away_at", "wrong_pins", "app_choice")


class PortTaken(OSError):
    """The agent's port is in use; the text says what to do."""


def _port(text: str) -> int:
    from simulator.cli import tcp_port

    return tcp_port(text)


def _serial(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--serial wants NAME=PATH, not {text!r}")
    return name, path


def actions(agent: Agent) -> dict[str, ControlAction]:
    def reader_of(params: dict[str, Any]) -> Any:
        name = params.get("reader") or next(iter(agent.readers))
        if name not in agent.readers:
            raise ValueError(f"no reader {name!r}; readers: {', '.join(agent.readers)}")
        return agent.readers[name]

    def next_card(params: dict[str, Any]) -> dict[str, Any]:
        card = params.get("card")
        if not isinstance(card, str):
            raise ValueError("card: a catalogue card name is required")
        reader = reader_of(params)
        reader.present(card)
        return {"reader": reader.name, "card": card}

    def cardholder(params: dict[str, Any]) -> dict[str, Any]:
        reader = reader_of(params)
        pinpad = reader.abecs.pinpad
        if pinpad is None:
            raise ValueError(f"{reader.name} is a real pinpad")
        for key in BEHAVIOUR_KEYS:
            if key in params:
                setattr(pinpad.customer.behaviour, key, params[key])
        return {"reader": reader.name}

    return {
        "next-card": ControlAction("next-card", "the card presented next: {card, reader}",
                                   next_card),
        "cardholder": ControlAction(
            "cardholder", "the customer's behaviour: {reader, pin, cancel_at, walk_away_at, "
            "wrong_pins}", cardholder),
    }


class GoChipServer:
    name = "gochip"
    aliases: tuple[str, ...] = ("gochip-websockets", "worldnet")
    description = "Worldnet GoChip Websockets agent on ws://127.0.0.1:8080/middleware"
    profiles: tuple[str, ...] = ("documented",)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from protocol_servers.gochip.settings import GATEWAYS

        parser.add_argument("--port", type=_port, default=8080,
                            help="WebSocket port (default 8080; 0 = any free port)")
        parser.add_argument("--gateway", choices=GATEWAYS, default="first-data",
                            help="gateway simulator whose test amounts decide (default "
                            "first-data)")
        parser.add_argument("--card", action="append", default=None, metavar="NAME",
                            help="catalogue card the customer presents (repeat for several, "
                            "in turn; default visa-chip-pin)")
        parser.add_argument("--readers", type=int, default=1,
                            help="number of readers (portName reader0, reader1 ...)")
        parser.add_argument("--serial", type=_serial, action="append", default=None,
                            metavar="NAME=PATH", help="a real ABECS pinpad as reader NAME")
        parser.add_argument("--link-dir", default=None,
                            help="directory for the pinpads' pty links")

    async def start(self, world: World, options: argparse.Namespace) -> Started:
        from protocol_servers.gochip import live
        from protocol_servers.gochip.agent import Agent, AgentConfig

        names = tuple(f"reader{i}" for i in range(max(1, getattr(options, "readers", 1))))
        config = AgentConfig(gateway=getattr(options, "gateway", "first-data"), readers=names,
                             cards=tuple(getattr(options, "card", None) or ("visa-chip-pin",)))
        agent = Agent(world, config)
        serial = dict(getattr(options, "serial", None) or ())
        pinpads = live.attach_readers(agent, getattr(options, "link_dir", None), serial)
        port = getattr(options, "port", live.DEFAULT_PORT)
        try:
            ws = await live.start(agent, "127.0.0.1", port)
        except OSError as exc:
            agent.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortTaken(exc.errno, f"port {port} is taken (another GoChip service or "
                                "program listens there): stop it, or choose another with "
                                "--port (0 = any free port)") from None
            raise

        async def close() -> None:
            await ws.close()
            agent.close()

        urls = {"pos": ws.url}
        urls.update({f"pinpad/{n}": p for n, p in pinpads.items()})
        banner = [f"GoChip Websockets agent ({config.gateway} gateway simulator)",
                  f"  POS: {ws.url}"]
        banner += [f"  reader {n}: pinpad on {p}" for n, p in pinpads.items()]
        return Started(urls, close, actions(agent), agent.state, banner)


SERVER = GoChipServer()
