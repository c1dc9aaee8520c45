"""What a server learns about a client when it connects, whatever the transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConnectionInfo:
    """The request line and peer of a new connection.

    ``path`` and ``query`` (first value of each parameter) are empty for TCP;
    ``headers`` are the HTTP upgrade request's headers (case-insensitive mapping for
    WebSocket, empty for TCP); ``peer`` is ``(host, port)`` of the client.
    """

    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    peer: Any = None
    transport: str = ""
