"""How the POS under test behaved: the client-under-test grades of the Valor terminal.

Only the terminal sees what a POS sends, so the terminal grades it (§A.7's client rules,
against the faults of §A.9). The checks read the terminal's own side, so they grade any
POS: the reference POS in the suite's cases, or a vendor's POS served with
``python -m conformance --serve valor``, which writes :func:`observations` into its
reports at shutdown.

A terminal serves for days, so nothing here keeps one entry per request or per
connection. :class:`Conduct` is fed as things happen (:meth:`Conduct.request`,
:meth:`Conduct.unresolved`, :meth:`Conduct.session_closed` ...) and folds each rule into
a :class:`~protocol_servers.grading.Grade` (counts and at most twenty reasons) as soon as
its verdict is known; only what is still open is held, and that is bounded too: the
STANs whose recovery is awaited (:data:`OPEN_STANS`), the un-ACKed requests whose 5 s
window has not closed, and the verdicts of the most recent STANs (:data:`KEPT_VERDICTS`)
that the suite's cases read back by STAN.

The functions at the bottom return a list of findings (an empty list is a pass) for
one STAN or over the whole run; :func:`observations` turns the grades into one
:class:`~protocol_servers.grading.Observation` per rule.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from protocol_servers.grading import Grade, Observation
from protocol_servers.valor.dictionary import ACK_TIMEOUT

MONEY_MODES = ("1", "2", "6")
# a realtime run adds transit to the POS's own clock: a request this close to the end of
# the ACK window still counts as having waited
ACK_WINDOW_SPARE = 0.1
#: STANs whose outcome the POS never got and has not asked for yet. A POS that never
#: recovers them at all is graded when the oldest is pushed out (as at the end of a run).
OPEN_STANS = 256
#: the verdicts of this many recent STANs stay readable by STAN (the suite's cases)
KEPT_VERDICTS = 256


def money(mode: str, code: str) -> bool:
    """A request that can move money (or fetch one: void, tip adjust ...): not a ping, a
    status query or a cancel."""
    return mode in MONEY_MODES or (mode == "0" and code != "")


def stan_key(text: Any) -> str:
    """A STAN as the terminal files it ("0018" and "18" are one STAN)."""
    return (str(text or "").lstrip("0") or "0") if text else ""


@dataclass
class _Unacked:
    """A request the terminal never ACKed (the no_ack fault), while its window is open."""

    t: float
    reasons: list[str] = field(default_factory=list)


def _rules() -> tuple[Grade, Grade, Grade, Grade]:
    return (
        Grade("valor/A.9/101", "an outcome the POS never got (socket lost after the STAN "
              "frame, final STATE -2) is recovered by TRAN_MODE 90 and its STAN, not by a "
              "blind retry",
              "a blind retry charges the cardholder twice; no query leaves the sale unknown"),
        Grade("valor/A.9/102", "after a request the terminal never ACKed, the POS waits out "
              "the 5 s ACK window before sending another",
              "a request resent inside the window may run twice"),
        Grade("valor/A.9/103", "the POS sends the trailing ACK after every final frame "
              "before its next request (§A.4 step 6)",
              "a real terminal holds the final for resending, or takes the next request "
              "badly"),
        Grade("valor/A.9/104", "a final frame with a foreign MER_TXN_ID is dropped, not "
              "taken (and ACKed) as the POS's own",
              "the POS books another transaction's outcome as its sale"),
    )


class Conduct:
    """The four client rules of §A.7, fed event by event, in bounded memory."""

    def __init__(self) -> None:
        self.recovery, self.waiting, self.trailing, self.foreign = _rules()
        self.money_requests = 0  # every money request so far (the blind-retry yardstick)
        self.requests = 0
        self.status_queries = 0
        self.trailing_acks = 0
        self.missing_acks = 0
        self.early_acks = 0
        self.not_requests = 0
        self.foreign_finals = 0  # stray finals sent by the foreign_final fault
        # STAN -> money_requests when its request came in (kept while it may be asked for)
        self._asked_at: OrderedDict[str, int] = OrderedDict()
        # STAN -> money_requests at its first TRAN_MODE 90 (a query may come before the
        # final is known to be lost: a POS that asks while the sale still runs)
        self._queried: OrderedDict[str, int] = OrderedDict()
        self._open: OrderedDict[str, int] = OrderedDict()  # unresolved STAN -> asked_at
        self._unacked: deque[_Unacked] = deque()
        self._verdicts: OrderedDict[str, list[str]] = OrderedDict()

    # -- events ------------------------------------------------------------------------------
    def request(self, t: float, mode: str, code: str, stan: str = "") -> None:
        """A request arrived (before the terminal did anything with it)."""
        self.requests += 1
        self._close_windows(t)
        if mode == "90":
            self.status_queries += 1
            key = stan_key(stan)
            if key and key not in self._queried:
                _remember(self._queried, key, self.money_requests, KEPT_VERDICTS)
            if key in self._open:
                self._judge(key, self._open.pop(key), self.money_requests)
            return
        if not money(mode, code):
            return
        self.money_requests += 1
        window = (1 - ACK_WINDOW_SPARE) * ACK_TIMEOUT
        for pending in self._unacked:
            if pending.t <= t < pending.t + window:
                pending.reasons.append(f"request sent {t - pending.t:.1f} s after an "
                                       "un-ACKed one")

    def started(self, stan: str, asked_at: int) -> None:
        """A request got STAN ``stan``; ``asked_at`` is :attr:`money_requests` as it was
        right after that request came in (money requests after it are retries)."""
        _remember(self._asked_at, stan_key(stan), asked_at, KEPT_VERDICTS)

    def dropped(self, t: float) -> None:
        """The request just counted was never ACKed (the no_ack fault)."""
        self._unacked.append(_Unacked(t))

    def unresolved(self, stan: str) -> None:
        """STAN's outcome never reached the POS as a final (socket lost, or STATE -2): a
        careful POS asks for it by TRAN_MODE 90 before it sends money requests again."""
        key = stan_key(stan)
        asked_at = self._asked_at.get(key, self.money_requests)
        if key in self._queried and self._queried[key] >= asked_at:
            self._judge(key, asked_at, self._queried[key])
            return
        self._open[key] = asked_at
        while len(self._open) > OPEN_STANS:
            old, at = self._open.popitem(last=False)
            self._judge(old, at)

    def session_closed(self, session: Any) -> None:
        """Fold an ended connection's counts into the grades (then it can be let go)."""
        self._fold(session, self.trailing, self.foreign)
        self.trailing_acks += session.trailing_acks
        self.missing_acks += session.missing_acks
        self.early_acks += session.early_acks
        self.not_requests += session.bad_inputs

    # -- verdicts ----------------------------------------------------------------------------
    def _judge(self, key: str, asked_at: int, queried_at: int | None = None) -> None:
        retries = (queried_at if queried_at is not None else self.money_requests) - asked_at
        found: list[str] = []
        if retries > 0:
            found.append(f"{retries} money request(s) sent before asking for STAN {key} "
                         "(blind retry)")
        elif queried_at is None:
            found.append(f"no TRAN_MODE 90 for STAN {key}: the outcome was never recovered")
        if found:
            self.recovery.fail("; ".join(found))
        else:
            self.recovery.saw()
        _remember(self._verdicts, key, found, KEPT_VERDICTS)

    def _close_windows(self, t: float) -> None:
        window = (1 - ACK_WINDOW_SPARE) * ACK_TIMEOUT
        while self._unacked and t >= self._unacked[0].t + window:
            self._grade_unacked(self.waiting, self._unacked.popleft())

    @staticmethod
    def _grade_unacked(grade: Grade, pending: _Unacked) -> None:
        if pending.reasons:
            grade.fail("; ".join(pending.reasons))
        else:
            grade.saw()

    @staticmethod
    def _fold(session: Any, trailing: Grade, foreign: Grade) -> None:
        trailing.times += session.trailing_acks
        if session.missing_acks:
            trailing.fail(f"{session.missing_acks} final(s) never ACKed before the next "
                          "request")
        if session.early_acks:
            foreign.fail(f"ACKed {session.early_acks} final(s) while its own request still "
                         "ran")

    def recovery_of(self, stan: str) -> list[str]:
        """Findings for one STAN (as of now: a STAN still open has not been asked for)."""
        key = stan_key(stan)
        if key in self._open:
            at = self._open[key]
            retries = self.money_requests - at
            if retries > 0:
                return [f"{retries} money request(s) sent before asking for STAN {key} "
                        "(blind retry)"]
            return [f"no TRAN_MODE 90 for STAN {key}: the outcome was never recovered"]
        return list(self._verdicts.get(key, []))

    def unacked_findings(self) -> list[str]:
        """Every request sent inside an un-ACKed request's window (closed or still open)."""
        return list(self.waiting.reasons) + [why for p in self._unacked for why in p.reasons]

    def grades(self, live: list[Any]) -> list[Grade]:
        """The rules as of now: what is decided, plus the open STANs, open ACK windows
        and live connections judged as if the run ended here (nothing is changed)."""
        recovery, waiting, trailing, foreign = _rules()
        recovery.merge(self.recovery)
        for key in self._open:
            found = self.recovery_of(key)
            recovery.fail("; ".join(found)) if found else recovery.saw()
        waiting.merge(self.waiting)
        for pending in self._unacked:
            self._grade_unacked(waiting, pending)
        trailing.merge(self.trailing)
        foreign.merge(self.foreign)
        for session in live:
            self._fold(session, trailing, foreign)
        if self.foreign_finals and not foreign.reasons:
            foreign.times += self.foreign_finals
        return [recovery, waiting, trailing, foreign]

    def counts(self, live: list[Any]) -> dict[str, int]:
        """What the POS did, in numbers (the control API's state)."""
        return {"requests": self.requests, "status_queries": self.status_queries,
                "trailing_acks": self.trailing_acks + sum(s.trailing_acks for s in live),
                "finals_never_acked": self.missing_acks + sum(s.missing_acks for s in live),
                "acks_before_final": self.early_acks + sum(s.early_acks for s in live),
                "not_requests": self.not_requests + sum(s.bad_inputs for s in live)}


def _remember(table: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)


# -- what the suite's cases and the served reports read ------------------------------------
def _live(terminal: Any) -> list[Any]:
    return [link.session for link in terminal.links]


def recovered_by_stan(terminal: Any, stan: str) -> list[str]:
    """After an outcome the POS never got (socket lost past the STAN frame, or a final
    ``STATE -2``): a ``TRAN_MODE 90`` for that STAN came, and no money request was sent
    before it (a blind retry could charge twice)."""
    return terminal.conduct.recovery_of(stan)  # type: ignore[no-any-return]


def waited_for_ack(terminal: Any) -> list[str]:
    """After a request that was never ACKed: no money request within the 5 s ACK window."""
    return terminal.conduct.unacked_findings()  # type: ignore[no-any-return]


def sent_trailing_acks(terminal: Any) -> list[str]:
    """Every final frame got the POS's trailing ACK before its next request (§A.4 step 6),
    over ended and live connections."""
    return grades(terminal)[2].reasons


def ignored_foreign_finals(terminal: Any) -> list[str]:
    """No ACK while the POS's own request still ran (it took a stray final as its own)."""
    return grades(terminal)[3].reasons


def grades(terminal: Any) -> list[Grade]:
    """The four client rules of §A.7 as the faults of §A.9 put them to the POS."""
    return terminal.conduct.grades(_live(terminal))  # type: ignore[no-any-return]


def observations(terminal: Any) -> list[Observation]:
    return [g.observation() for g in grades(terminal)]


__all__ = ["Conduct", "grades", "ignored_foreign_finals", "money", "observations",
           "recovered_by_stan", "sent_trailing_acks", "waited_for_ack"]
