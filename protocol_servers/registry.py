"""The reference servers cardloop knows: the ``cardloop.servers`` entry-point group.

Each entry names a server's :class:`~protocol_servers.contract.ServerSpec`
(``mpos = "protocol_servers.mpos.contract:SERVER"``). This is the one list that
``cardloop serve``, ``python -m conformance --serve``, the demo and the benches read.
An entry whose package is not installed (a server still being written, a slim
install) is skipped; any other import error is a bug and is raised.

:func:`register` adds a spec for this process only (a test's toy server, a plugin
not installed as a distribution); it wins over an entry of the same name.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from protocol_servers.contract import ServerSpec

GROUP = "cardloop.servers"

_extra: dict[str, ServerSpec] = {}
_installed: dict[str, ServerSpec] | None = None


class UnknownServer(LookupError):
    """No server answers to that name; the message lists the known ones."""


def _missing_package(exc: ModuleNotFoundError, entry: EntryPoint) -> bool:
    """True when ``exc`` says the entry's own module (or a parent package) is absent."""
    module = entry.value.partition(":")[0]
    return exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))


def _load(entries: Iterable[EntryPoint]) -> dict[str, ServerSpec]:
    found: dict[str, ServerSpec] = {}
    for entry in entries:
        try:
            spec = entry.load()
        except ModuleNotFoundError as exc:
            if _missing_package(exc, entry):
                continue  # that server is not part of this installation (yet)
            raise
        if not isinstance(spec, ServerSpec):
            raise TypeError(f"entry point {entry.name} = {entry.value} is not a ServerSpec")
        if spec.name != entry.name:
            raise ValueError(f"entry point {entry.name} names server {spec.name!r}")
        found[spec.name] = spec
    return found


def servers() -> dict[str, ServerSpec]:
    """Every available server by short name, in the group's order, then :func:`register`'s."""
    global _installed
    if _installed is None:
        _installed = _load(entry_points(group=GROUP))
    return {**{k: v for k, v in _installed.items() if k not in _extra}, **_extra}


def register(spec: ServerSpec) -> None:
    """Make ``spec`` available in this process (see the module's docstring)."""
    _extra[spec.name] = spec


def unregister(name: str) -> None:
    _extra.pop(name, None)


def lookup(name: str) -> ServerSpec:
    """The server called ``name`` or one of its aliases."""
    known = servers()
    if name in known:
        return known[name]
    for spec in known.values():
        if name in spec.aliases:
            return spec
    raise UnknownServer(f"no reference server {name!r}; known: {sorted(known)}")


# -- options ---------------------------------------------------------------------------
def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every served server has; the server adds its own after these."""
    from simulator.cli import SEED_HELP, tcp_port

    parser.add_argument("--seed", type=int, default=1, help=f"{SEED_HELP} (default 1)")
    parser.add_argument("--factor", type=float, default=1.0,
                        help="wall seconds per simulated second (default 1.0)")
    parser.add_argument("--control-port", type=tcp_port, default=0,
                        help="control API port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--transcript", metavar="FILE", default=None,
                        help="stream the masked transcript (JSON Lines) to this file")
    parser.add_argument("--quiet", action="store_true",
                        help="do not print the live console (the pinpad's display, the card "
                        "going in and out, the PIN typed as stars, the host's answers)")


def server_parser(spec: ServerSpec, parser: argparse.ArgumentParser | None = None
                  ) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog=f"cardloop serve {spec.name}")
    add_common_arguments(parser)
    spec.add_arguments(parser)
    return parser


def options_for(spec: ServerSpec, argv: Sequence[str] = (), **overrides: Any
                ) -> argparse.Namespace:
    """``spec``'s options as its parser reads ``argv``, then ``overrides`` on top (the
    suite's ``--serve`` role sets seed, factor, profile and the role's defaults)."""
    options = server_parser(spec).parse_args(list(argv))
    for key, value in {**dict(getattr(spec, "role_defaults", {}) or {}), **overrides}.items():
        setattr(options, key, value)
    return options


def add_server_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """One ``cardloop serve NAME`` subcommand per server, its aliases as aliases."""
    for spec in servers().values():
        parser = sub.add_parser(spec.name, aliases=list(spec.aliases), help=spec.description,
                                description=spec.description)
        server_parser(spec, parser)
        parser.set_defaults(func=_serve_command(spec))


def _serve_command(spec: ServerSpec) -> Any:
    def run(args: argparse.Namespace) -> int:
        from protocol_servers.serving import serve_cli

        return serve_cli(spec, args)

    return run
