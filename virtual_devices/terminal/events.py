"""What a terminal tells the people and systems around it while a payment runs.

Servers map these to their own protocol (a Connect ``terminalNotification``, a GoChip
``RES_ON_MESSAGE`` prompt, a Valor status, a console line). Each event is a small
frozen dataclass; an observer is any ``Callable[[TerminalEvent], None]``.

Two feeds produce them. The *device* feed is the pinpad itself when it runs in the
same world (in-memory mode): its display, the card going in and out, the PIN prompt
and the digits typed, as they happen. Over a pty or a real serial line the terminal
sees only ABECS, so it derives the same events from the answers (NTM notifications,
GCR, GOC, RMC) a moment later. Either way an observer receives one event per happening:
:class:`~virtual_devices.terminal.app.Terminal` suppresses its derived copy when a
device feed is attached. No event ever carries a clear PAN or PIN: ``masked_pan`` is
first 6 / last 4, ``masked`` PIN text is asterisks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Presentation = Literal["insert", "tap", "swipe"]


@dataclass(frozen=True)
class TerminalEvent:
    """Base of every event; ``at`` is the world's clock (simulated seconds)."""

    at: float


# -- the device feed (from the pinpad in memory, else derived from ABECS) --------------
@dataclass(frozen=True)
class DisplayChanged(TerminalEvent):
    text: str  # the whole 2x16 screen, lines joined by " / "


@dataclass(frozen=True)
class CardPresented(TerminalEvent):
    how: Presentation
    masked_pan: str = ""  # empty while the pinpad has not read it yet


@dataclass(frozen=True)
class PinEntryStarted(TerminalEvent):
    kind: str  # "online", "offline" or "" when the pinpad does not say


@dataclass(frozen=True)
class PinEntered(TerminalEvent):
    masked: str  # one "*" per digit typed; "" when the cardholder cancelled


@dataclass(frozen=True)
class CardRemoved(TerminalEvent):
    pass


# -- the application feed (the terminal's own steps) -----------------------------------
@dataclass(frozen=True)
class TablesLoaded(TerminalEvent):
    version: str


@dataclass(frozen=True)
class CardRequested(TerminalEvent):
    amount: int


@dataclass(frozen=True)
class CardRead(TerminalEvent):
    card_type: int  # ABECS GCR CARDTYPE: 00 stripe, 03 chip, 05/06 contactless
    masked_pan: str
    fallback: bool = False  # a swipe after the chip failed


@dataclass(frozen=True)
class CardKeyed(TerminalEvent):
    """The card's details were typed on the pinpad's keypad (no card was read)."""

    masked_pan: str


@dataclass(frozen=True)
class HostRequested(TerminalEvent):
    amount: int
    kind: str  # "sale", "preauth", "refund", "capture", "void"


@dataclass(frozen=True)
class HostAnswered(TerminalEvent):
    approved: bool
    arc: str  # "" when the host did not answer
    reference: str = ""


@dataclass(frozen=True)
class CardDecided(TerminalEvent):
    """The card's own verdict after the host's answer (FNC), or offline at GOC."""

    approved: bool


@dataclass(frozen=True)
class SignatureRequired(TerminalEvent):
    pass


@dataclass(frozen=True)
class Reversed(TerminalEvent):
    reference: str


@dataclass(frozen=True)
class Cancelled(TerminalEvent):
    pass


@dataclass(frozen=True)
class TransactionEnded(TerminalEvent):
    approved: bool
    reason: str = ""  # "", or what ended it: "declined by card", "status 013", ...


Observer = Callable[[TerminalEvent], None]
