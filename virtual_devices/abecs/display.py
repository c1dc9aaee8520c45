"""The pinpad's 2x16 character display, with a history of what the customer saw.

Characters below 0x20 show as spaces (ABECS DSP note); a short message is space
padded and anything past 32 characters is not shown. The history keeps the simulated
time of every change so a test can ask what was on screen when.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.world import World

COLS = 16
ROWS = 2


@dataclass(frozen=True)
class Screen:
    at: float
    line1: str
    line2: str

    @property
    def text(self) -> str:
        return f"{self.line1.rstrip()} / {self.line2.rstrip()}".strip(" /")


_CONTROLS = str.maketrans({c: " " for c in range(0x20)})


def _printable(text: str) -> str:
    """Control characters shown as spaces."""
    return text.translate(_CONTROLS)


#: our choice: a sale shows about ten screens, so this covers the last fifty or so
DISPLAY_HISTORY = 500


@dataclass
class Display:
    world: World
    #: the latest screens, oldest first (the transcript has every one): a pinpad inside
    #: a terminal lives for days, so only the newest DISPLAY_HISTORY are held
    history: deque[Screen] = field(default_factory=lambda: deque(maxlen=DISPLAY_HISTORY))
    port: str = "pinpad-display"  # the transcript port its screens are written under
    listeners: list[Callable[[Screen], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.history.append(Screen(self.world.now, " " * COLS, " " * COLS))

    def show(self, message: str) -> Screen:
        """Show a 32-character message: the first 16 on line 1, the next 16 on line 2."""
        text = _printable(message)[: COLS * ROWS].ljust(COLS * ROWS)
        return self._set(text[:COLS], text[COLS:])

    def show_lines(self, line1: str, line2: str = "") -> Screen:
        return self._set(_printable(line1)[:COLS].ljust(COLS), _printable(line2)[:COLS].ljust(COLS))

    def show_multiline(self, text: str) -> Screen:
        """DEX: CR starts a new line; a 2-line display shows the first two."""
        lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
        return self.show_lines(lines[0], lines[1] if len(lines) > 1 else "")

    def clear(self) -> Screen:
        return self._set(" " * COLS, " " * COLS)

    def _set(self, l1: str, l2: str) -> Screen:
        screen = Screen(self.world.now, l1, l2)
        last = self.history[-1]
        if (last.line1, last.line2) != (l1, l2):
            self.history.append(screen)
            self.world.transcript.event(self.port, f"[{l1}|{l2}]")
            for listener in self.listeners:
                listener(screen)
        return screen

    @property
    def current(self) -> Screen:
        return self.history[-1]

    def texts(self) -> list[str]:
        return [s.text for s in self.history]
