"""The one contract every reference server fulfils.

A server package exposes one :class:`ServerSpec` object (conventionally
``protocol_servers.<name>.contract:SERVER``) and names it in the ``cardloop.servers``
entry-point group of ``pyproject.toml``. ``cardloop serve``, ``python -m conformance
--serve``, the control API, the demo and the benches all read that one list
(:func:`protocol_servers.registry.servers`), so a new server touches nothing outside
its own package and its case folder.

Why a spec object and not a module of loose functions: the list of servers is read
by tools that only want a name and a line of help (``--help``, ``--list-servers``),
and importing a server's whole stack for that would be slow and fragile. The spec
is cheap to import; ``start`` pulls in the rest.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from simulator.world import World

ActionFn = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class ControlAction:
    """A scenario knob of a running server: next card, cardholder behaviour, a fault.

    ``apply`` runs inside the world (the control API injects it on the loop that
    drives the world), takes the request's JSON parameters and returns what it did.
    It raises ``ValueError`` for parameters it refuses; the control API answers 400.
    """

    name: str
    help: str
    apply: ActionFn


@dataclass
class Started:
    """What ``start`` hands back: where clients connect, and how to stop.

    ``urls`` maps a role to an address, e.g. ``{"pos": "ws://127.0.0.1:2000/mpos",
    "pinpad/0": "/dev/pts/5"}``; the banner prints them in order. ``actions`` are the
    control actions of this running instance. ``state`` is what ``GET /state`` of the
    control API and the live console may show (plain JSON values).
    """

    urls: dict[str, str]
    close: Callable[[], Awaitable[None]]
    actions: Mapping[str, ControlAction] = field(default_factory=dict)
    state: Callable[[], dict[str, Any]] = field(default=lambda: {})
    banner: list[str] = field(default_factory=list)


@runtime_checkable
class ServerSpec(Protocol):
    """One reference server: its names, its options, its profiles, how to start it."""

    #: short name used everywhere: case ids, CLI, folders, tests (``mpos``, ``p3`` ...)
    name: str
    #: other names the CLI accepts (``mpos-bridge``, ``payserver`` ...)
    aliases: tuple[str, ...]
    #: one line for ``--help`` and listings
    description: str
    #: profiles the server can run under; the first is the default
    profiles: tuple[str, ...]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this server's own options (ports, readers, cards, profile ...)."""

    async def start(self, world: World, options: argparse.Namespace) -> Started:
        """Start in ``world`` (realtime mode, real sockets and ptys) and return its URLs."""
        ...
