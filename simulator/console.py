"""The live console: what a person at the counter would see, printed as it happens.

``cardloop serve`` prints one line per happening a person would notice: the pinpad's
display, the customer inserting, tapping or swiping a card, typing the PIN (as stars),
the host's answer and the card coming out. It reads the world's transcript as entries
are written (already masked, so no card number reaches the screen in clear) and takes
other lines, such as the host's answers, through :meth:`LiveConsole.say`.

Which transcript events are shown is a table of port suffixes and label prefixes, not a
chain of conditions, so a new device adds a row.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from simulator.transcript import Entry, Transcript


@dataclass(frozen=True)
class Shown:
    """Events on a port ``port`` accepts whose label starts with one of ``labels`` (any
    label when empty) are shown; ``render`` makes the line from port and label."""

    port: Callable[[str], bool]
    labels: tuple[str, ...]
    render: Callable[[str, str], str]


def _screen(port: str, label: str) -> str:
    # "[INSIRA OU PASSE |O CARTAO        ]" -> "INSIRA OU PASSE / O CARTAO"
    lines = [part.strip() for part in label.strip("[]").split("|")]
    text = " / ".join(line for line in lines if line)
    return f"shows  {text}" if text else "display cleared"


def _as_is(port: str, label: str) -> str:
    return label


SHOWN: tuple[Shown, ...] = (
    Shown(lambda port: port.endswith("-display"), (), _screen),
    Shown(lambda port: True, ("card inserted", "card swiped", "card tapped", "card removed",
                              "PIN typed"), _as_is),
    # faults a user adds or removes at runtime (not every byte a fault touches)
    Shown(lambda port: True, ("fault added", "fault removed"), _as_is),
)


class LiveConsole:
    """Prints the counter's happenings to ``out``; ``attach`` it to a world's transcript."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] | None = None,
                 shown: tuple[Shown, ...] = SHOWN) -> None:
        self.out = out if out is not None else sys.stdout
        self.clock = clock
        self.shown = shown
        self.lines = 0

    def attach(self, transcript: Transcript) -> LiveConsole:
        transcript.listeners.append(self.on_entry)
        return self

    def watch_ledger(self, ledger: Any, who: str = "host") -> LiveConsole:
        """Show each answer the acquirer records (a ledger with ``listeners``; entries
        with kind, amount, approved, response_code and pan_masked)."""

        def answered(e: Any) -> None:
            self.say(who, host_answer(e.kind, e.amount, e.approved, e.response_code,
                                      e.pan_masked))

        ledger.listeners.append(answered)
        return self

    def on_entry(self, entry: Entry) -> None:
        if entry.direction != "event":
            return
        for rule in self.shown:
            if not rule.port(entry.port):
                continue
            if rule.labels and not entry.label.startswith(rule.labels):
                continue
            self.say(_who(entry.port), rule.render(entry.port, entry.label), entry.sim)
            return

    def say(self, who: str, text: str, at: float | None = None) -> None:
        """One line: simulated time, who, what."""
        if at is None and self.clock is not None:
            at = self.clock()
        stamp = f"{at:9.3f}s " if at is not None else ""
        self.out.write(f"{stamp}{who:<10} {text}\n")
        self.out.flush()
        self.lines += 1


def _who(port: str) -> str:
    return port.removesuffix("-display")


def host_answer(kind: str, amount: int, approved: bool, code: str, pan_masked: str) -> str:
    """The host's answer as the console prints it (amount in minor units)."""
    verdict = "approved" if approved else "declined"
    return f"{kind} {amount // 100}.{amount % 100:02d} {pan_masked}: {verdict} ({code})"
