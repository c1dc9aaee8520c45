"""The Connect entry of the server contract (``cardloop serve connect``, ``--serve connect``).

Cheap to import: ``start`` pulls in the rest. The banner prints both URLs with the
working test token, every terminal with its TID, currency, card and pinpad, and the
control actions (next card and cardholder per terminal, a silent PDQ, the waiter).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ControlAction, Started

if TYPE_CHECKING:
    from simulator.world import World

BEHAVIOUR_KEYS = ("pin", "wrong_pins", "cancel_at", "walk_away_at", "presentation")


class ConnectSpec:
    name = "connect"
    aliases = ("paymentsense-connect", "paymentsense")
    description = "Paymentsense Connect: PAC and PAT over WebSocket JSON-RPC 2.0 (v1, v0)"
    profiles = ("documented", "documented+no-busy-rule", "documented+notify-after-result")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("connect")
        g.add_argument("--connect-host", default="127.0.0.1")
        g.add_argument("--connect-port", type=int, default=0,
                       help="port for /pac and /pat (0: a free one)")
        g.add_argument("--connect-tls", action="store_true",
                       help="serve wss:// with a certificate made at start")
        g.add_argument("--connect-pinpad", action="append", default=[], metavar="TID=PATH",
                       help="a real ABECS pinpad for terminal TID (repeatable)")
        g.add_argument("--connect-memory-pinpads", action="store_true",
                       help="virtual pinpads in memory instead of on ptys")
        g.add_argument("--connect-wrapped-terminals", action="store_true",
                       help='connectedTerminals answers {"terminals": [...]}')
        g.add_argument("--connect-profile", default="documented",
                       help="documented[+no-busy-rule][+notify-after-result]")

    async def start(self, world: World, options: argparse.Namespace) -> Started:
        from dataclasses import replace

        from protocol_servers.connect import live
        from protocol_servers.connect.server import ServerConfig, with_switches

        config = with_switches(ServerConfig(), getattr(options, "connect_profile", "documented"))
        if getattr(options, "connect_wrapped_terminals", False):
            config = replace(config, wrapped_terminals=True)
        pinpads: Any = "pty"
        if getattr(options, "connect_memory_pinpads", False):
            pinpads = "memory"
        real = dict(p.split("=", 1) for p in getattr(options, "connect_pinpad", []) or [])
        if real:
            pinpads = real
        ep = await live.start(world, config, getattr(options, "connect_host", "127.0.0.1"),
                              getattr(options, "connect_port", 0),
                              getattr(options, "connect_tls", False), pinpads=pinpads)
        server = ep.server
        urls = {"pac": ep.pac_url, "pat": ep.pat_url}
        urls.update({f"pinpad/{tid}": path for tid, path in ep.pinpads.items()})
        banner = [f"Paymentsense Connect reference server ({config.tokens[0]} is the test token)",
                  f"  PAC  {ep.pac_url}", f"  PAT  {ep.pat_url}"]
        if ep.ca_path:
            banner.append(f"  CA certificate to trust: {ep.ca_path}")
        banner.append("  terminals:")
        for spec in config.terminals:
            banner.append(f"    {spec.tid:<12} {spec.currency}  card {spec.card:<22} pinpad "
                          f"{ep.pinpads.get(spec.tid, '')}"
                          + ("  (silent PDQ: TIMED_OUT)" if spec.silent else ""))
        return Started(urls=urls, close=ep.close, actions=actions(server),
                       state=server.state, banner=banner)


def actions(server: Any) -> dict[str, ControlAction]:
    """Control actions of a running server (also used by the suite in virtual mode)."""
    def terminal(params: dict[str, Any]) -> Any:
        tid = params.get("tid")
        term = server.terminals.get(tid)
        if term is None:
            raise ValueError(f"no terminal {tid!r}; known {sorted(server.terminals)}")
        return term

    def card(params: dict[str, Any]) -> dict[str, Any]:
        term = terminal(params)
        unknown = set(params) - {"tid", "card", *BEHAVIOUR_KEYS}
        if unknown:
            raise ValueError(f"unknown cardholder choices {sorted(unknown)}")
        behaviour = {k: params[k] for k in BEHAVIOUR_KEYS if k in params}
        term.machine.choose_card(str(params.get("card", term.machine.cards[0])), **behaviour)
        return {"tid": term.tid, "card": term.machine.cards[0], "behaviour": behaviour}

    def silence(params: dict[str, Any]) -> dict[str, Any]:
        term = terminal(params)
        term.silent = bool(params.get("on", True))
        return {"tid": term.tid, "silent": term.silent}

    def waiter(params: dict[str, Any]) -> dict[str, Any]:
        from protocol_servers.connect.pat import WaiterPlan

        term = terminal(params)
        plan = WaiterPlan.from_json(params)
        server.start_waiter(term.tid, plan)
        return {"tid": term.tid, "waiter": "started"}

    return {a.name: a for a in (
        ControlAction("card", "the next customer at terminal `tid` holds `card` "
                      "(catalogue name) and acts per pin/wrong_pins/cancel_at/walk_away_at",
                      card),
        ControlAction("silence", "terminal `tid`'s PDQ goes silent (`on`: true/false): "
                      "its next transaction ends TIMED_OUT after 200 s", silence),
        ControlAction("waiter", "a waiter at terminal `tid` serves a table on /pat: "
                      "`table`, `parts` or `amounts`, `cards`, `print_bill`", waiter),
    )}


SERVER = ConnectSpec()
