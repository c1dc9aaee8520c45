"""``connect``: Paymentsense Connect, PAC and PAT over WebSocket JSON-RPC 2.0 (v1, v0).

Serves ``/pac`` and ``/pat`` on one port (``ws://`` or, with ``--tls``, ``wss://`` with a
certificate made at start), each terminal's virtual pinpad on a pty (or a real ABECS
pinpad by path). The banner prints both URLs with the working test token, every
terminal with its TID, currency, card and pinpad. Control actions: ``card`` (the next
customer at a terminal and how they act), ``silence`` (a PDQ that goes quiet: TIMED_OUT),
``waiter`` (a waiter serves a table on /pat), ``waiter_result`` (what that waiter did:
table, splits, payments).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ControlAction, Server, Started

if TYPE_CHECKING:
    from simulator.world import World

BEHAVIOUR_KEYS = ("pin", "wrong_pins", "cancel_at", "walk_away_at", "presentation",
                  "think_s", "typing_s", "entries")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from simulator.cli import tcp_port

    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=tcp_port, default=0,
                        help="port for /pac and /pat (default 0: any free port)")
    parser.add_argument("--tls", action="store_true",
                        help="serve wss:// with a certificate made at start")
    parser.add_argument("--pinpad", action="append", default=[], metavar="TID=PATH",
                        help="a real ABECS pinpad for terminal TID (repeatable)")
    parser.add_argument("--memory-pinpads", action="store_true",
                        help="virtual pinpads in memory instead of on ptys")
    parser.add_argument("--wrapped-terminals", action="store_true",
                        help='connectedTerminals answers {"terminals": [...]}')
    parser.add_argument("--profile", default="documented",
                        help="documented[+no-busy-rule][+notify-after-result]")
    parser.add_argument("--refuse-by", choices=("http", "close"), default="http",
                        help="a bad handshake: http (401/400 with a JSON body, default) or "
                        "close (accept the upgrade, then close with 1008)")
    parser.add_argument("--rpc-ping", action="store_true",
                        help="also send a JSON-RPC ping request every ping interval; close "
                        "with 1011 when it is not answered")
    parser.add_argument("--link-dir", default=None,
                        help="directory for the pinpads' pty links (default: a temp dir)")


async def start(world: World, options: argparse.Namespace) -> Started:
    from dataclasses import replace

    from protocol_servers.connect import live
    from protocol_servers.connect.server import ServerConfig, with_switches
    from simulator.cli import CliError

    try:
        config = with_switches(ServerConfig(), getattr(options, "profile", None)
                               or "documented")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    host = getattr(options, "host", "127.0.0.1") or "127.0.0.1"
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise CliError("the reference Connect server listens on loopback only")
    if getattr(options, "wrapped_terminals", False):
        config = replace(config, wrapped_terminals=True)
    config = replace(config, refuse_by=getattr(options, "refuse_by", "http") or "http",
                     rpc_ping=bool(getattr(options, "rpc_ping", False)))
    pinpads: Any = "memory" if getattr(options, "memory_pinpads", False) else "pty"
    real = dict(p.split("=", 1) for p in getattr(options, "pinpad", []) or [])
    if real:
        pinpads = real
    ep = await live.start(world, config, "127.0.0.1" if host == "localhost" else host,
                          getattr(options, "port", 0) or 0, getattr(options, "tls", False),
                          pinpads=pinpads, link_dir=getattr(options, "link_dir", None))
    server = ep.server
    urls = {"pac": ep.pac_url, "pat": ep.pat_url}
    urls.update({f"pinpad/{tid}": path for tid, path in ep.pinpads.items()})
    banner = [f"Paymentsense Connect reference server (test token {config.tokens[0]})",
              f"  PAC  {ep.pac_url}", f"  PAT  {ep.pat_url}"]
    if ep.ca_path:
        banner.append(f"  CA certificate to trust: {ep.ca_path}")
    banner.append("  terminals:")
    for spec in config.terminals:
        banner.append(f"    {spec.tid:<12} {spec.currency}  card {spec.card:<22} pinpad "
                      f"{ep.pinpads.get(spec.tid, '')}"
                      + ("  (silent PDQ: TIMED_OUT)" if spec.silent else ""))
    return Started(urls=urls, close=ep.close, actions=actions(server), state=server.state,
                   banner=banner, observations=server.conduct.observations)


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
        unknown = set(params) - {"tid", "card", "entry", *BEHAVIOUR_KEYS}
        if unknown:
            raise ValueError(f"unknown cardholder choices {sorted(unknown)}")
        behaviour = {k: params[k] for k in BEHAVIOUR_KEYS if k in params}
        if "entries" in behaviour:  # what is typed at the keypad's prompts, in order
            entries = behaviour["entries"]
            if not isinstance(entries, list) or not all(isinstance(e, str) and e.isdigit()
                                                        for e in entries):
                raise ValueError("entries must be a list of digit strings")
            behaviour["entries"] = list(entries)
        for key in ("think_s", "typing_s"):  # [low, high] seconds in JSON
            if key in behaviour:
                try:
                    low, high = (float(x) for x in behaviour[key])
                except (TypeError, ValueError):
                    raise ValueError(f"{key} must be [low, high] seconds") from None
                behaviour[key] = (low, high)
        entry = str(params.get("entry", "card"))
        term.machine.choose_card(str(params.get("card", term.machine.cards[0])), entry,
                                 **behaviour)
        shown = {k: v for k, v in behaviour.items() if k != "entries"}  # may hold a PAN
        return {"tid": term.tid, "card": term.machine.cards[0], "entry": entry,
                "behaviour": shown}

    def silence(params: dict[str, Any]) -> dict[str, Any]:
        term = terminal(params)
        term.silent = bool(params.get("on", True))
        return {"tid": term.tid, "silent": term.silent}

    def waiter(params: dict[str, Any]) -> dict[str, Any]:
        from protocol_servers.connect.pat import WaiterPlan

        term = terminal(params)
        server.start_waiter(term.tid, WaiterPlan.from_json(params))
        return {"tid": term.tid, "waiter": "started", "number": server.waiters[-1].number}

    def waiter_result(params: dict[str, Any]) -> dict[str, Any]:
        number = params.get("number")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise ValueError("number must be the integer the waiter action answered")
        tid = params.get("tid")
        if tid is not None:
            tid = terminal(params).tid
        if number is not None:
            outcome = server.waiter_outcome(number)
            if outcome is not None and tid is not None and outcome.tid != tid:
                outcome = None
        else:  # the last waiter at ``tid`` (at any terminal without one)
            outcome = next((o for o in reversed(server.waiters)
                            if tid is None or o.tid == tid), None)
        if outcome is None:
            raise ValueError("no such waiter: start one with the waiter action")
        return dict(outcome.to_json())

    return {a.name: a for a in (
        ControlAction("card", "the next customer at terminal `tid` holds `card` "
                      "(catalogue name) and acts per pin/wrong_pins/cancel_at/walk_away_at/"
                      "presentation; `entry`: card (read) or keyed (typed on the PDQ); "
                      "`entries`: digits typed at the keypad's prompts, in order", card),
        ControlAction("silence", "terminal `tid`'s PDQ goes silent (`on`: true/false): "
                      "its next transaction ends TIMED_OUT after 200 s", silence),
        ControlAction("waiter", "a waiter at terminal `tid` serves a table on /pat: "
                      "`table`, `parts` or `amounts`, `cards`, `print_bill`; answers the "
                      "waiter's `number`", waiter),
        ControlAction("waiter_result", "what waiter `number` (or the last at `tid`) did: "
                      "`finished`, `table`, `locked`, `amount`, `splits`, `payments` "
                      "(each outcome, masked PAN), `steps`", waiter_result),
    )}


SERVER = Server(
    name="connect",
    description="Paymentsense Connect: PAC and PAT over WebSocket JSON-RPC 2.0 (v1, v0)",
    starter=start,
    aliases=("paymentsense-connect", "paymentsense"),
    profiles=("documented", "documented+no-busy-rule", "documented+notify-after-result"),
    arguments=add_arguments,
    role_defaults={"port": 0},
)
