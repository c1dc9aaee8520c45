"""Which reference servers ``cardloop serve NAME`` knows, one line each.

A server package plugs in by adding ``"name": "package.module"`` to :data:`SERVERS`.
The module is imported only when its server is asked for, and provides:

``add_arguments(parser: argparse.ArgumentParser) -> None``
    its own options (readers, cards, ports...);
``serve(args: argparse.Namespace) -> int``
    run until interrupted, printing where clients connect; returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

SERVERS: dict[str, str] = {
    "mpos-bridge": "protocol_servers.mpos.serve",
    "payserver": "protocol_servers.p3.serve",
    "valor": "protocol_servers.valor.serve",
}


def available() -> dict[str, ModuleType]:
    """The registered servers whose module is installed, in registration order."""
    found: dict[str, ModuleType] = {}
    for name, module in SERVERS.items():
        try:
            found[name] = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is not None and module.startswith(exc.name):
                continue  # that server is not part of this installation yet
            raise
    return found


def add_server_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    for name, module in available().items():
        doc = (module.__doc__ or name).strip().splitlines()[0]
        parser = sub.add_parser(name, help=doc, description=module.__doc__)
        module.add_arguments(parser)
        parser.set_defaults(func=module.serve)
