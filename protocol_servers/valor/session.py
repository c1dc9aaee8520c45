"""One POS connection as a state table (sans-I/O), the same for every transport and role.

A connection is ``IDLE`` until a money request arrives, ``WORKING`` while the terminal
runs it, ``AWAITING_ACK`` after the final frame until the POS sends its trailing
``{"STATE":"0","MSG":"ACK"}`` (§A.4 step 6), and ``CLOSED`` once the socket is gone.
Health pings, status queries and cancels are answered in any state and change nothing.
The transitions are data (:data:`TRANSITIONS`), in the manner of h11's ``_state.py``, so
a reader sees the whole exchange in one place and an impossible pair raises at once.

The session does not run transactions: :meth:`Session.receive` classifies what came in
and says what to do (:class:`Dispatch` it to the terminal, :class:`Reply` at once, or
nothing); the link that owns the socket does it. What the POS did wrong along the way
(no trailing ACK before its next request) is counted for the conformance grading.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from protocol_servers.valor import dictionary as d
from protocol_servers.valor.wire import Frame, Junk, Style


class State(Enum):
    IDLE = "IDLE"
    WORKING = "WORKING"
    AWAITING_ACK = "AWAITING_ACK"
    CLOSED = "CLOSED"


class Event(Enum):
    REQUEST = "request"  # a money or fetch request (sale, void, settle ...)
    INSTANT = "instant"  # ping 96, status 90, cancel 99: answered at once
    ACK = "ack"  # the POS's trailing ACK
    ECHO = "echo"  # a response-shaped object that is not an ACK
    BAD = "bad"  # junk or not a request
    FINAL_SENT = "final_sent"
    LOST = "lost"  # the socket closed


S, E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (S.IDLE, E.REQUEST): S.WORKING,
    (S.WORKING, E.REQUEST): S.WORKING,  # refused by the terminal: PROCESSING ERROR
    (S.AWAITING_ACK, E.REQUEST): S.WORKING,  # counted: the POS skipped its trailing ACK
    (S.WORKING, E.FINAL_SENT): S.AWAITING_ACK,
    (S.AWAITING_ACK, E.FINAL_SENT): S.AWAITING_ACK,
    (S.IDLE, E.FINAL_SENT): S.AWAITING_ACK,
    (S.AWAITING_ACK, E.ACK): S.IDLE,
    (S.IDLE, E.ACK): S.IDLE,
    (S.WORKING, E.ACK): S.WORKING,
}
for _s in (S.IDLE, S.WORKING, S.AWAITING_ACK):
    for _e in (E.INSTANT, E.ECHO, E.BAD):
        TRANSITIONS[(_s, _e)] = _s
    TRANSITIONS[(_s, E.LOST)] = S.CLOSED
for _e in Event:
    TRANSITIONS[(S.CLOSED, _e)] = S.CLOSED


class ProtocolStateError(RuntimeError):
    pass


@dataclass(frozen=True)
class Dispatch:
    request: d.Request
    style: Style


@dataclass(frozen=True)
class Reply:
    frame: dict[str, str]
    style: Style


Action = Dispatch | Reply


@dataclass
class Session:
    """``cancel_port``: the 5001 socket, where only 99 (and the 96 ping) make sense."""

    identity: dict[str, str]
    cancel_port: bool = False
    state: State = State.IDLE
    last_style: Style = "bare"
    trailing_acks: int = 0
    missing_acks: int = 0
    early_acks: int = 0  # an ACK while the request still runs: the POS took a stray final
    bad_inputs: int = 0

    def _go(self, event: Event) -> None:
        try:
            new = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise ProtocolStateError(f"{event.value} in {self.state.value}") from None
        if self.state is S.AWAITING_ACK and event is E.REQUEST:
            self.missing_acks += 1
        if self.state is S.AWAITING_ACK and event is E.ACK:
            self.trailing_acks += 1
        if self.state is S.WORKING and event is E.ACK:
            self.early_acks += 1
        self.state = new

    def receive(self, item: Frame | Junk, style: Style | None = None) -> list[Action]:
        if isinstance(item, Junk):
            # Choice (the note is silent on answering what cannot be read): the answer
            # goes in the framing the bad bytes show (inside STX/ETX or the USB markers,
            # a line ended by a newline), else in the connection's last good framing (a
            # client keeps one framing), else the transport's own (``last_style`` starts
            # as the link's default: bare on TCP, the markers on USB, a WebSocket message)
            self._go(E.BAD)
            self.bad_inputs += 1
            return [Reply(d.error_frame(d.NOT_A_REQUEST, self.identity),
                          style or item.style or self.last_style)]
        style = style or item.style
        self.last_style = style
        parsed = d.parse(item.payload)
        if isinstance(parsed, d.Echo):
            self._go(E.ACK if parsed.is_ack else E.ECHO)
            return []
        if isinstance(parsed, d.NotRequest):
            self._go(E.BAD)
            self.bad_inputs += 1
            return [Reply(d.error_frame(d.NOT_A_REQUEST, self.identity), style)]
        if parsed.mode in (d.MODE_STATUS, d.MODE_QUERY, d.MODE_CANCEL):
            self._go(E.INSTANT)
            return [Dispatch(parsed, style)]
        if self.cancel_port:
            self._go(E.BAD)
            return [Reply(d.error_frame(d.CANCEL_PORT_ONLY, self.identity, parsed), style)]
        self._go(E.REQUEST)
        return [Dispatch(parsed, style)]

    def final_sent(self) -> None:
        self._go(E.FINAL_SENT)

    def lost(self) -> None:
        self._go(E.LOST)
