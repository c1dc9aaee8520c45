"""The one contract every reference server fulfils.

A server package exposes one :class:`ServerSpec` object (conventionally
``protocol_servers.<name>.contract:SERVER``) and names it in the ``cardloop.servers``
entry-point group of ``pyproject.toml``. ``cardloop serve``, ``python -m conformance
--serve``, the control API, the demo and the benches all read that one list
(:func:`protocol_servers.registry.servers`), so a new server touches nothing outside
its own package and its case folder. ``protocol_servers/README.md`` lists the files.

Why a spec object and not a module of loose functions: the list of servers is read
by tools that only want a name and a line of help (``--help``, ``--list-servers``),
and importing a server's whole stack for that would be slow and fragile. The spec
is cheap to import; ``start`` pulls in the rest. :class:`Server` is the ready-made
spec: a server names the function that starts it as ``"module:function"`` and that
module is imported on the first start only.

Options every server shares (``--seed``, ``--factor``, ``--control-port``,
``--transcript``) are added by the registry; ``add_arguments`` adds the server's own.
When served, ``options.control_url`` holds the control API's URL before ``start`` runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from simulator.control import ControlAction, ControlError

if TYPE_CHECKING:
    from protocol_servers.grading import Observation
    from simulator.world import World

__all__ = ["ControlAction", "ControlError", "Server", "ServerSpec", "Started"]


@dataclass
class Started:
    """What ``start`` hands back: where clients connect, and how to stop.

    ``urls`` maps a role to an address, e.g. ``{"mpos": "ws://127.0.0.1:2000/mpos",
    "pinpad0": "/dev/pts/5"}``. ``actions`` are the control actions of this running
    instance (the control API adds the world's fault actions). ``state`` is what
    ``GET /state`` of the control API shows under ``"server"`` (plain JSON values).
    ``banner`` is what ``cardloop serve`` prints, one line each, before the control
    API's line. ``ledgers`` are the acquirer ledgers whose answers the live console
    shows as they are recorded. ``observations``, when the server grades the POS under
    test, returns those grades (:class:`protocol_servers.grading.Observation`, one per
    rule, the whole run so far); ``--serve`` calls it once the run has ended and writes
    the grades into its reports.
    """

    urls: dict[str, str]
    close: Callable[[], Awaitable[None]]
    actions: Mapping[str, ControlAction] = field(default_factory=dict)
    state: Callable[[], dict[str, Any]] | None = None
    banner: list[str] = field(default_factory=list)
    ledgers: list[Any] = field(default_factory=list)
    observations: Callable[[], list[Observation]] | None = None


def actions_by_name(*actions: ControlAction) -> dict[str, ControlAction]:
    return {a.name: a for a in actions}


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


Starter = Callable[["World", argparse.Namespace], Awaitable[Started]]


@dataclass(frozen=True)
class Server:
    """A :class:`ServerSpec` from data: the usual way to write ``SERVER``.

    ``starter`` is ``"module:function"``, an ``async def start(world, options) ->
    Started`` imported on first use (or that function itself). ``arguments`` adds the
    server's own options.
    ``role_defaults`` are option values for the client-under-test role (``python -m
    conformance --serve``), e.g. ``{"port": 0}`` so that runs never fight over a port.
    ``package`` is where the server's ``scenarios.toml`` (certification scenarios of
    the control API's ``/play``) lives, if it has one.
    """

    name: str
    description: str
    starter: str | Starter
    aliases: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    role_defaults: Mapping[str, Any] = field(default_factory=dict)
    package: str | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.arguments is not None:
            self.arguments(parser)

    async def start(self, world: World, options: argparse.Namespace) -> Started:
        fn = self.starter
        if isinstance(fn, str):
            module, _, attr = fn.partition(":")
            fn = getattr(importlib.import_module(module), attr)
        return await fn(world, options)

    def scenarios_text(self) -> str | None:
        """The server's ``scenarios.toml``, or None when it has none."""
        if self.package is None:
            return None
        path = resources.files(self.package).joinpath("scenarios.toml")
        return path.read_text("utf-8") if path.is_file() else None
