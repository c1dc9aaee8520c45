"""``cardloop serve NAME`` and ``cardloop demo``.

``serve`` has one subcommand per server of the ``cardloop.servers`` entry-point group
(:mod:`protocol_servers.registry`), its long names as aliases; ``demo`` runs the
README's first command: a full mpos-bridge sale over a real WebSocket and real ptys,
step by step, with a report.
"""

from __future__ import annotations

import argparse
from typing import Any

from protocol_servers.registry import add_server_parsers


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="run a reference POS protocol server with virtual readers",
        description="Run a reference POS protocol server with virtual readers until interrupted.",
    )
    servers = serve.add_subparsers(dest="server", metavar="SERVER")
    add_server_parsers(servers)
    serve.set_defaults(func=_serve_help(serve))

    try:
        from protocol_servers.mpos import demo as demo_module
    except ImportError:  # the demo needs the virtual devices; an install may lack them
        return
    demo = sub.add_parser(
        "demo",
        help="a full mpos-bridge sale over a real WebSocket and ptys",
        description="Start the mpos-bridge reference server with a virtual pinpad on a pty, "
        "pay as a POS would over a real WebSocket, and write a report.",
    )
    demo_module.add_arguments(demo)
    demo.set_defaults(func=demo_module.run)


def _serve_help(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show
