"""``SERVER``: the Valor reference terminal in the server contract (``protocol_servers.contract``).

``start`` runs the terminal in a realtime world: in the server role WebSocket + TCP on
one port (5000) and the cancel socket (5001), plus the USB variant on a pty pair; in
the client role it dials the POS (``--role client --pos URL``). Its control actions are
the fault knobs of §A.9 (``valor-fault``; the world's own ``fault`` action works on the
ports), the next card (``next-card``); ``GET /state`` shows the terminal, its batch and
what the POS did (trailing ACKs, early ACKs, requests); the POS under test is graded
by :mod:`.conduct` (``Started.observations``). ``scenarios.toml`` names one
certification scenario per fault.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from protocol_servers.contract import ControlAction, Server, Started

if TYPE_CHECKING:
    from simulator.world import World

DEFAULT_PORT, DEFAULT_CANCEL_PORT = 5000, 5001
BAUDS = (9600, 115200)


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return value


PROFILES = ("local", "cloud", "local+no-busy-rule", "local+late-cancel")


def _profile(text: str) -> str:
    from protocol_servers.valor.terminal import split_profile

    try:
        split_profile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", choices=("server", "client"), default="server",
                        help="server: listen for the POS (default); client: dial the POS")
    parser.add_argument("--pos", metavar="URL", default=None,
                        help="client role: the POS's ws://HOST:PORT or tcp://HOST:PORT")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help="WebSocket and TCP port (default 5000; 0 = any free port)")
    parser.add_argument("--cancel-port", type=_port, default=DEFAULT_CANCEL_PORT,
                        help="cancel socket (default 5001; 0 = any free port)")
    parser.add_argument("--usb-baud", type=int, choices=BAUDS, default=9600,
                        help="line speed of the USB variant's pty (default 9600)")
    parser.add_argument("--no-usb", action="store_true", help="do not open the USB pty")
    parser.add_argument("--link-dir", default=None, help="directory for the USB pty link")
    parser.add_argument("--profile", type=_profile, default="local",
                        help="local (REQ_TXN_ID optional) or cloud (REQ_TXN_ID required), "
                        "with [+no-busy-rule][+late-cancel] to switch a rule off")
    parser.add_argument("--strict-stx", action="store_true",
                        help="accept only STX/ETX-framed TCP requests")
    parser.add_argument("--card", action="append", default=None, metavar="NAME",
                        help="catalogue card(s) the cardholder presents, in turn")


async def start(world: World, options: argparse.Namespace) -> Started:
    """The terminal in its role, with the control actions of §A.9; see the module."""
    import warnings

    # the EMV libraries build two-key TDES through cryptography's moved class; harmless
    warnings.filterwarnings("ignore", message=".*TripleDES.*")
    from protocol_servers.valor import live
    from protocol_servers.valor.terminal import KNOBS, ValorTerminal

    host = getattr(options, "host", "127.0.0.1") or "127.0.0.1"
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the reference terminal listens on loopback only")
    cards = tuple(getattr(options, "card", None) or ("visa-chip-pin",))
    term = ValorTerminal(world, profile=getattr(options, "profile", "local"), cards=cards)
    if getattr(options, "strict_stx", False):
        term.set_knob("strict_stx")
    urls: dict[str, str] = {}
    banner: list[str] = [f"Valor semi-integration terminal (profile {term.profile})"]
    closers: list[Any] = []
    role = getattr(options, "role", "server")
    if role == "client":
        pos = getattr(options, "pos", None)
        if not pos:
            raise ValueError("--role client needs --pos ws://HOST:PORT or tcp://HOST:PORT")
        dialer = live.Dialer(term, pos)
        dialer.start()
        closers.append(dialer.close)
        urls["pos"] = pos
        banner.append(f"  client role: dialling the POS at {pos}")
    else:
        main = await live.Front(world, term, "valor").start(host, options.port)
        cancel = await live.Front(world, term, "valor-cancel", cancel_port=True).start(
            host, options.cancel_port)
        closers += [main.close, cancel.close]
        urls.update({"ws": f"ws://{host}:{main.port}", "tcp": f"tcp://{host}:{main.port}",
                     "cancel": f"tcp://{host}:{cancel.port}",
                     "cancel-ws": f"ws://{host}:{cancel.port}"})
        banner += [f"  WebSocket: ws://{host}:{main.port}  (one JSON object per text message)",
                   f"  TCP:       tcp://{host}:{main.port}  (bare JSON, JSON + newline, "
                   "or STX/ETX; replies in the request's framing)",
                   f"  cancel:    tcp://{host}:{cancel.port}  (TRAN_MODE 99; also ws://)"]
    if role == "server" and not getattr(options, "no_usb", False):
        usb = live.open_usb(term, options.usb_baud, getattr(options, "link_dir", None))
        urls["usb"] = usb.pos_path
        banner.append(f"  USB:       {usb.pos_path}  ({usb.baud} baud, <STX> JSON <ETX>)")

        async def close_usb() -> None:
            usb.close()

        closers.append(close_usb)

    async def close() -> None:
        for closer in reversed(closers):
            await closer()

    def fault(params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name", ""))
        times = int(params.get("times", 1))
        term.set_knob(name, times)
        return {"valor-fault": name, "times": times, "knobs": dict(term.knobs)}

    def card(params: dict[str, Any]) -> dict[str, Any]:
        from virtual_devices.emv.catalogue import catalogue

        name = str(params.get("name", ""))
        if name not in catalogue():
            raise ValueError(f"unknown card {name!r}")
        term.card.cards = (name,)
        term.card._next = 0
        return {"card": name}

    actions = {
        "valor-fault": ControlAction("valor-fault", "arm a fault of §A.9: name (one of "
                                     + ", ".join(sorted(KNOBS)) + "), times (0 clears)",
                                     fault),
        "next-card": ControlAction("next-card", "name: the catalogue card the cardholder "
                                   "presents from now on",
                              card),
    }
    from protocol_servers.valor.conduct import observations

    return Started(urls=urls, close=close, actions=actions, state=term.state, banner=banner,
                   observations=lambda: observations(term))



SERVER = Server(
    name="valor",
    aliases=("valor-semi",),
    description="Valor PayTech semi-integration terminal: WebSocket and TCP on one port, "
    "cancel socket, USB serial pty; server or client role",
    starter="protocol_servers.valor.contract:start",
    profiles=PROFILES,
    arguments=add_arguments,
    # the suite's --serve role: any free ports
    role_defaults={"port": 0, "cancel_port": 0},
    package="protocol_servers.valor",
)
