"""Handlers registered by decorator: ``@method("pac", "sale", versions=("v1", "v0"))``.

A handler takes the session and the request and returns the result, or :data:`LATER`
when it will answer itself (a transaction answers when the terminal has finished); it
raises :class:`~protocol_servers.connect.jsonrpc.RpcError` to answer with an error.
``allowed`` names the members ``params`` may carry: the Connect schemas say
``additionalProperties: false`` (§3), so anything else is refused with -32602.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocol_servers.connect.jsonrpc import Request
    from protocol_servers.connect.session import Session

Handler = Callable[["Session", "Request"], Any]
LATER = object()


@dataclass(frozen=True)
class Route:
    handler: Handler
    allowed: frozenset[str] | None  # None: params not checked here


ROUTES: dict[tuple[str, str, str], Route] = {}


def method(integration: str, name: str, versions: tuple[str, ...] = ("v1", "v0"),
           allowed: tuple[str, ...] | None = None) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for v in versions:
            key = (integration, v, name)
            if key in ROUTES:
                raise ValueError(f"two handlers for {key}")
            ROUTES[key] = Route(fn, None if allowed is None else frozenset(allowed))
        return fn
    return register


def route(integration: str, version: str, name: str) -> Route | None:
    return ROUTES.get((integration, version, name))
