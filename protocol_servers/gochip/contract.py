"""``gochip``: the Worldnet GoChip Websockets agent with virtual ABECS readers on ptys.

Serves ``ws://127.0.0.1:8080/middleware`` (§B.2; ``--port 0`` picks a free port, and a
taken port is said plainly). Options: ``--gateway`` (``first-data`` or ``tsys``: whose
test amounts decide, §B.6), ``--card`` (catalogue cards the customer presents, in
turn), ``--readers`` (reader0, reader1 ... as ``portName``) and ``--serial NAME=PATH``
(a real ABECS pinpad as reader NAME). Control actions: ``next-card`` and
``cardholder`` per virtual pinpad (:mod:`protocol_servers.pinpad_actions`), and
``gateway`` ``{up}`` (the gateway on or off the network).
"""

from __future__ import annotations

import argparse
import errno
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import Server, Started

if TYPE_CHECKING:
    from protocol_servers.gochip.agent import Agent
    from simulator.world import World


def _serial(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--serial wants NAME=PATH, not {text!r}")
    return name, path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulator.cli import tcp_port

    parser.add_argument("--port", type=tcp_port, default=8080,
                        help="WebSocket port (default 8080; 0 = any free port)")
    parser.add_argument("--gateway", choices=("first-data", "tsys"), default="first-data",
                        help="gateway simulator whose test amounts decide (default first-data)")
    parser.add_argument("--card", action="append", default=None, metavar="NAME",
                        help="catalogue card the customer presents (repeat for several, in "
                        "turn; default visa-chip-pin)")
    parser.add_argument("--entry", choices=("tap", "insert", "swipe"), default=None,
                        help="how the customer presents the cards (default: tap a "
                        "contactless card when the antenna is on, else insert, else swipe)")
    parser.add_argument("--readers", type=int, default=1,
                        help="number of readers (portName reader0, reader1 ...)")
    parser.add_argument("--serial", type=_serial, action="append", default=None,
                        metavar="NAME=PATH", help="a real ABECS pinpad as reader NAME")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pinpads' pty links")


def _entry_knobs(entry: str | None) -> dict[str, Any]:
    """``--entry``: how the customer presents every card (the cardholder's presentation)."""
    return {} if entry is None else {"presentation": entry}


def _actions(world: World, agent: Agent) -> list[Any]:
    from protocol_servers.pinpad_actions import pinpad_actions
    from simulator.control import ControlAction

    readers = list(agent.readers.values())

    def card(name: str) -> Any:
        from virtual_devices.emv.card import VirtualCard
        from virtual_devices.emv.catalogue import catalogue

        profiles = catalogue()
        if name not in profiles:
            raise KeyError(f"no card {name!r}; known: {', '.join(sorted(profiles))}")
        return VirtualCard(profiles[name]).place_in(world)

    def on_card(idx: int, name: str, _card: Any) -> None:
        from virtual_devices.abecs.customer import Customer
        from virtual_devices.emv.catalogue import catalogue

        pinpad = readers[idx].pinpad
        if pinpad is not None:
            pinpad.customer = Customer.for_profile(world, catalogue()[name])

    def gateway(params: dict[str, Any]) -> dict[str, Any]:
        """The gateway's reachability: off, every online request goes unanswered (the
        POS hears the comm error, or its sale goes offline) and the terminal health
        listener reports it; on again, everything answers."""
        unknown = set(params) - {"up"}
        if unknown or not isinstance(params.get("up"), bool):
            raise ValueError("gateway wants {\"up\": true|false}")
        agent.gateway_up = params["up"]
        return {"up": agent.gateway_up}

    return [*pinpad_actions(world, lambda: [r.pinpad for r in readers], card,
                            on_card=on_card),
            ControlAction("gateway", "the gateway on or off the network: {up}", gateway)]


async def start(world: World, options: argparse.Namespace) -> Started:
    """The agent on its WebSocket with its readers opened; see the module."""
    import warnings

    from protocol_servers.gochip import live
    from protocol_servers.gochip.agent import Agent, AgentConfig, switches_of
    from simulator.cli import CliError

    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    names = tuple(f"reader{i}" for i in range(max(1, getattr(options, "readers", 1))))
    config = AgentConfig(gateway=getattr(options, "gateway", "first-data"), readers=names,
                         cards=tuple(getattr(options, "card", None) or ("visa-chip-pin",)),
                         customer=_entry_knobs(getattr(options, "entry", None)),
                         switches=switches_of(getattr(options, "profile", None)))
    agent = Agent(world, config)
    serial = dict(getattr(options, "serial", None) or ())
    unknown = set(serial) - set(names)
    if unknown:
        raise CliError(f"--serial names no reader: {sorted(unknown)}; readers: {list(names)}")
    pinpads = live.attach_readers(agent, getattr(options, "link_dir", None), serial)
    for reader in agent.readers.values():  # --entry reaches the pty readers too
        if reader.pinpad is not None and config.customer:
            reader.pinpad.customer.behaviour.presentation = config.customer["presentation"]
    port = getattr(options, "port", live.DEFAULT_PORT)
    try:
        ws = await live.start(agent, "127.0.0.1", port)
    except OSError as exc:
        agent.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {port} is taken (another GoChip service or program listens "
                           "there): stop it, or choose another with --port (0 = any free "
                           "port)", 1) from None
        raise

    async def close() -> None:
        await ws.close()
        agent.close()

    urls = {"gochip": ws.url}
    urls.update({f"pinpad{i}": p for i, p in enumerate(pinpads.values())})
    banner = [f"GoChip Websockets agent ({config.gateway} gateway simulator)",
              f"  POS:    {ws.url}"]
    banner += [f"  reader {n} (portName): pinpad on {p}" for n, p in pinpads.items()]
    return Started(urls, close, {a.name: a for a in _actions(world, agent)}, agent.state,
                   banner, observations=agent.observations)


SERVER = Server(
    name="gochip",
    aliases=("gochip-websockets", "worldnet"),
    description="Worldnet GoChip Websockets agent on ws://127.0.0.1:8080/middleware with "
    "virtual ABECS readers",
    starter="protocol_servers.gochip.contract:start",
    arguments=add_arguments,
    role_defaults={"port": 0},  # the suite's --serve role: any free port
    profiles=("documented", "documented+no-refund-limit", "documented+remove-card-first"),
)
