"""The context table (mpos-bridge.md §2.6), kept apart from any transport.

A context is one SDK instance + one serial device + a state. The table is shared by
every connection of a server (the shipped bridge kept it in a static dictionary), so a
POS may initialize on one socket and process on another. The sequence rule is checked
and ``current_operation`` updated *before* an operation runs, even if it then fails,
which is what makes finish legal after a failed process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol_servers.mpos.codec import ContextStatus, RequestType, check_sequence


@dataclass
class Context:
    id: str
    # simulated time of the last request that named this context (idle expiry)
    last_seen: float
    status: ContextStatus = ContextStatus.Uninitialized
    current_operation: int = 0
    device_id: str | None = None
    # set when the bifrost-0.0.19 quirk leaves the context's lock held (§2.6)
    stuck: bool = False
    # whatever the server keeps per context (the pinpad session, the lock, ...)
    runtime: dict[str, Any] = field(default_factory=dict)


class ContextTable:
    def __init__(self, sequence_rule: bool) -> None:
        self._contexts: dict[str, Context] = {}
        self.sequence_rule = sequence_rule
        self.locked = False  # the auto-update lock of §2.6: refuse new contexts

    def get(self, context_id: str) -> Context | None:
        return self._contexts.get(context_id)

    def get_or_create(self, context_id: str, now: float) -> Context | None:
        """None when contexts are locked and this one does not exist yet; a new context
        is named at ``now``."""
        ctx = self._contexts.get(context_id)
        if ctx is None:
            if self.locked:
                return None
            ctx = Context(context_id, last_seen=now)
            self._contexts[context_id] = ctx
        return ctx

    def idle(self, now: float, limit: float) -> list[Context]:
        """Contexts nobody has named for more than ``limit`` seconds."""
        return [c for c in self._contexts.values() if now - c.last_seen > limit]

    def remove(self, context_id: str) -> Context | None:
        return self._contexts.pop(context_id, None)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._contexts.values()))

    def __len__(self) -> int:
        return len(self._contexts)

    def advance(self, ctx: Context, request_type: int) -> str | None:
        """Apply the sequence rule; returns the error text or None (and records the step)."""
        if self.sequence_rule:
            error = check_sequence(ctx.current_operation, request_type)
            if error is not None:
                return error
        if request_type in (RequestType.Initialize, RequestType.Process, RequestType.Finish):
            ctx.current_operation = int(request_type)
        return None
