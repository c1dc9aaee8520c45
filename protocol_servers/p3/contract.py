"""``p3``: the Payworks PayServer with MOCK readers and virtual ABECS pinpads on ptys.

Serves P3 over WebSocket and framed TCP (4-byte big-endian length + UTF-8 JSON) and
opens each non-MOCK device's reader: a virtual pinpad on a pty, or the real serial
port the configuration names. Devices come from ``--config`` (YAML or TOML, the keys
of PayServer's config.yaml, payworks-p3.md §8.2); without it, one MOCK reader and one
virtual ABECS pinpad. Control actions: ``next-card`` and ``cardholder`` per virtual
pinpad, ``reader`` counting the ABECS devices in configuration order.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import Server, Started

if TYPE_CHECKING:
    from protocol_servers.p3.config import ServerConfig
    from simulator.world import World


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulator.cli import tcp_port

    parser.add_argument("--config", metavar="FILE", default=None,
                        help="config.yaml / config.toml with host, ports, location and devices")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--ws-port", type=tcp_port, default=None,
                        help="WebSocket port (default 8080; 0 = any free port)")
    parser.add_argument("--tcp-port", type=tcp_port, default=None,
                        help="framed TCP port (default 8081; 0 = any free port)")
    parser.add_argument("--per-connection-login", action="store_true",
                        help="ask for a merchant login on every connection (default: one "
                        "login holds for the whole server, as public P3 clients expect)")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pinpads' pty links (default: a fixed per-user "
                        "place, so the device names stay the same across restarts)")


def default_config() -> ServerConfig:
    from protocol_servers.p3.config import DeviceConfig, ServerConfig

    return ServerConfig(devices=(
        DeviceConfig("mockReader", "Mock reader"),
        DeviceConfig("counterReader", "Counter reader (ABECS)", "MIURA", "USB"),
    ))


async def start(world: World, options: argparse.Namespace) -> Started:
    """The server on both transports with its readers opened; see the module."""
    import warnings

    from protocol_servers.p3 import live
    from protocol_servers.p3.config import ConfigError, load
    from protocol_servers.p3.server import PayServer
    from protocol_servers.serving import link_dir_for
    from simulator.cli import CliError

    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    try:
        cfg = load(options.config) if options.config else default_config()
    except (ConfigError, OSError) as exc:
        raise CliError(f"config: {exc}") from None
    if options.host not in (None, "127.0.0.1", "::1", "localhost"):
        raise CliError("the reference PayServer listens on loopback only (127.0.0.1 or ::1)")
    if getattr(options, "per_connection_login", False):
        cfg = replace(cfg, global_login=False)
    server = PayServer(world, cfg)
    host = "127.0.0.1" if options.host in (None, "localhost") else options.host
    opened = await live.attach_readers(server, link_dir_for(options.link_dir, "p3"))
    try:
        endpoints = await live.start(server, host, options.ws_port, options.tcp_port)
    except BaseException:
        server.close()
        raise
    readers = [dev.reader for dev in server.devices.values() if dev.reader is not None]
    urls = {"p3": endpoints.ws_url, "p3-tcp": endpoints.tcp_url}
    ports = dict(opened)
    banner = [f"PayServer (P3) at {cfg.location}",
              f"  WebSocket:  {endpoints.ws_url}",
              f"  framed TCP: {endpoints.tcp_url}  (4-byte big-endian length + UTF-8 JSON)"]
    for dev in server.devices.values():
        line = f"  device {dev.config.resource}: {dev.config.type}/{dev.config.comlink}"
        if dev.config.resource in ports:
            line += f", pinpad on {ports[dev.config.resource]}"
            if dev.reader is not None and dev.reader.port_path:
                urls[f"pinpad{len([k for k in urls if k.startswith('pinpad')])}"] = (
                    dev.reader.port_path)
        banner.append(line)

    async def close() -> None:
        await endpoints.close()
        server.close()

    def state() -> dict[str, Any]:
        return {"location": cfg.location, "devices": [d.config.resource
                                                      for d in server.devices.values()],
                "ledger_entries": len(server.gateway.ledger.entries),
                "ledger_problems": server.gateway.ledger.problems()}

    return Started(urls, close, {a.name: a for a in _actions(world, readers)}, state, banner,
                   ledgers=[server.acquirer.ledger])


def _actions(world: World, readers: list[Any]) -> list[Any]:
    """``next-card`` / ``cardholder`` on the virtual pinpads behind the ABECS readers.

    The reader hands its configured cards in turn whenever its pinpad holds none, each
    with the customer its catalogue entry expects; a card chosen here gets that
    customer at once, and ``cardholder`` knobs stay for the cards handed later.
    """
    from protocol_servers.pinpad_actions import pinpad_actions

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

        reader = readers[idx]
        reader.pinpad.customer = Customer.for_profile(world, catalogue()[name],
                                                      **reader.customer)

    def on_behaviour(idx: int, knobs: dict[str, Any]) -> None:
        readers[idx].customer.update(knobs)

    return pinpad_actions(world, lambda: [r.pinpad for r in readers], card,
                          on_card=on_card, on_behaviour=on_behaviour)


SERVER = Server(
    name="p3",
    aliases=("payserver",),
    description="Payworks PayServer (P3) over WebSocket and framed TCP, "
    "MOCK readers and virtual ABECS pinpads",
    starter="protocol_servers.p3.contract:start",
    arguments=add_arguments,
    # the suite's --serve role: any free ports
    role_defaults={"ws_port": 0, "tcp_port": 0},
    package="protocol_servers.p3",
)
