"""How the POS under test behaved: the client-under-test grades of the Valor terminal.

Only the terminal sees what a POS sends, so the terminal grades it (§A.7's client rules,
against the faults of §A.9). The checks read the terminal's own side (its request log,
the STANs whose outcome the POS never got, every connection's session), so they grade
any POS: the reference POS in the suite's cases, or a vendor's POS served with
``python -m conformance --serve valor``, which writes :func:`observations` into its
reports at shutdown.

Each check returns a list of findings (an empty list is a pass); :func:`observations`
turns them into one :class:`~protocol_servers.grading.Grade` per rule over the whole run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from protocol_servers.grading import Grade, Observation
from protocol_servers.valor.pos import ACK_TIMEOUT

MONEY_MODES = ("1", "2", "6")
# a realtime run adds transit to the POS's own clock: a request this close to the end of
# the ACK window still counts as having waited
ACK_WINDOW_SPARE = 0.1


def money(entry: dict[str, Any]) -> bool:
    """A request that can move money (or fetch one: void, tip adjust ...): not a ping, a
    status query or a cancel."""
    return entry["mode"] in MONEY_MODES or (entry["mode"] == "0" and entry["code"] != "")


def _stan(text: Any) -> str:
    return (str(text or "").lstrip("0") or "0") if text else ""


def recovered_by_stan(terminal: Any, stan: str) -> list[str]:
    """After an outcome the POS never got (socket lost past the STAN frame, or a final
    ``STATE -2``): a ``TRAN_MODE 90`` for that STAN came, and no money request was sent
    before it (a blind retry could charge twice)."""
    log = terminal.requests
    rec = terminal.records.get(_stan(stan))
    start = rec.log_at + 1 if rec is not None and rec.log_at >= 0 else 0
    query = next((i for i in range(start, len(log))
                  if log[i]["mode"] == "90" and _stan(log[i]["stan"]) == _stan(stan)), None)
    retries = [e for e in log[start:query] if money(e)]
    if retries:
        return [f"{len(retries)} money request(s) sent before asking for STAN {stan} "
                "(blind retry)"]
    if query is None:
        return [f"no TRAN_MODE 90 for STAN {stan}: the outcome was never recovered"]
    return []


def _unacked(terminal: Any) -> list[dict[str, Any]]:
    return [e for e in terminal.requests if e.get("dropped")]


def _too_soon(terminal: Any, dropped: dict[str, Any]) -> list[str]:
    t0 = dropped["t"]
    window = (1 - ACK_WINDOW_SPARE) * ACK_TIMEOUT
    return [f"request sent {e['t'] - t0:.1f} s after an un-ACKed one"
            for e in terminal.requests
            if e is not dropped and t0 <= e["t"] < t0 + window and money(e)]


def waited_for_ack(terminal: Any) -> list[str]:
    """After a request that was never ACKed: no money request within the 5 s ACK window."""
    return [why for dropped in _unacked(terminal) for why in _too_soon(terminal, dropped)]


def sent_trailing_acks(sessions: Iterable[Any]) -> list[str]:
    """Every final frame got the POS's trailing ACK before its next request (§A.4 step 6)."""
    return [f"connection {n}: {s.missing_acks} final(s) never ACKed"
            for n, s in enumerate(sessions, 1) if s.missing_acks]


def ignored_foreign_finals(sessions: Iterable[Any]) -> list[str]:
    """No ACK while the POS's own request still ran (it took a stray final as its own)."""
    return [f"connection {n}: ACKed {s.early_acks} final(s) that were not its own"
            for n, s in enumerate(sessions, 1) if s.early_acks]


def grades(terminal: Any) -> list[Grade]:
    """The four client rules of §A.7 as the faults of §A.9 put them to the POS."""
    recovery = Grade(
        "valor/A.9/101", "an outcome the POS never got (socket lost after the STAN frame, "
        "final STATE -2) is recovered by TRAN_MODE 90 and its STAN, not by a blind retry",
        "a blind retry charges the cardholder twice; no query leaves the sale unknown")
    for stan in terminal.unresolved:
        found = recovered_by_stan(terminal, stan)
        if found:
            recovery.fail("; ".join(found))
        else:
            recovery.saw()
    waiting = Grade(
        "valor/A.9/102", "after a request the terminal never ACKed, the POS waits out the "
        "5 s ACK window before sending another",
        "a request resent inside the window may run twice")
    for dropped in _unacked(terminal):
        found = _too_soon(terminal, dropped)
        if found:
            waiting.fail("; ".join(found))
        else:
            waiting.saw()
    trailing = Grade(
        "valor/A.9/103", "the POS sends the trailing ACK after every final frame before its "
        "next request (§A.4 step 6)",
        "a real terminal holds the final for resending, or takes the next request badly")
    foreign = Grade(
        "valor/A.9/104", "a final frame with a foreign MER_TXN_ID is dropped, not taken (and "
        "ACKed) as the POS's own",
        "the POS books another transaction's outcome as its sale")
    sessions = list(terminal.sessions)
    for session in sessions:
        trailing.times += session.trailing_acks
        if session.missing_acks:
            trailing.fail(f"{session.missing_acks} final(s) never ACKed before the next "
                          "request")
        if session.early_acks:
            foreign.fail(f"ACKed {session.early_acks} final(s) while its own request still "
                         "ran")
    if terminal.foreign_finals and not foreign.reasons:
        foreign.times += terminal.foreign_finals
    return [recovery, waiting, trailing, foreign]


def observations(terminal: Any) -> list[Observation]:
    return [g.observation() for g in grades(terminal)]


__all__ = ["grades", "ignored_foreign_finals", "money", "observations", "recovered_by_stan",
           "sent_trailing_acks", "waited_for_ack"]
