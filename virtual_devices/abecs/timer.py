"""The one timer a sans-I/O link machine asks for, on the world's clock.

``Arm`` re-arms it and ``Disarm`` stops it. A receiver re-arms on every byte (the
inter-byte timeout), so re-arming to a later deadline reuses the sleeping process;
only an earlier deadline starts a new one (the old one then retires on waking).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.world import World


class LinkTimer:
    def __init__(self, world: World, on_expiry: Callable[[], None]) -> None:
        self.world = world
        self.on_expiry = on_expiry
        self.deadline: float | None = None
        self._wake_at: float | None = None  # when the live sleeper wakes
        self._gen = 0

    def arm(self, seconds: float) -> None:
        self.deadline = self.world.now + seconds
        if self._wake_at is None or self.deadline < self._wake_at:
            self._gen += 1
            self.world.process(self._sleeper(self._gen))

    def disarm(self) -> None:
        self.deadline = None

    def _sleeper(self, gen: int) -> Generator[Any, Any, None]:
        while gen == self._gen and self.deadline is not None:
            wait = self.deadline - self.world.now
            if wait > 0:
                self._wake_at = self.deadline
                yield self.world.timeout(wait)
                continue
            self.deadline = None
            self._wake_at = None
            self.on_expiry()
            return
        if gen == self._gen:
            self._wake_at = None
