"""Grading a POS by what the terminal saw it do (§A.7's client rules, the faults of §A.9).

These read only the terminal's side (its request log and the connection sessions), so
they grade any POS: ours in virtual mode, or a vendor's POS served with ``--serve valor``.
Each returns a list of findings; an empty list is a pass.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.valor.pos import ACK_TIMEOUT


def money(entry: dict[str, Any]) -> bool:
    return entry["mode"] in ("1", "2", "6") or (entry["mode"] == "0" and entry["code"] != "")


def recovered_by_stan(terminal: Any, stan: str) -> list[str]:
    """After a socket lost past the STAN frame: a status query for that STAN came, and no
    money request was sent before it (a blind retry could charge twice)."""
    log = terminal.requests
    first = next((i for i, e in enumerate(log) if e["mode"] == "90" and e["stan"] == stan), None)
    lost_at = next((i for i, e in enumerate(log)
                    if money(e) and terminal.records.get(stan) is not None
                    and e["req_txn_id"] == terminal.records[stan].req_txn_id), None)
    if first is None:
        return [f"no TRAN_MODE 90 for STAN {stan}: the outcome was never recovered"]
    retries = [e for e in log[(lost_at or 0) + 1:first] if money(e)]
    if retries:
        return [f"{len(retries)} money request(s) sent before asking for STAN {stan} "
                "(blind retry)"]
    return []


def waited_for_ack(terminal: Any) -> list[str]:
    """After a request that was never ACKed: nothing more within the 5 s ACK window."""
    out = []
    for dropped in (e for e in terminal.requests if e.get("dropped")):
        t0 = dropped["t"]
        out += [f"request sent {e['t'] - t0:.1f} s after an un-ACKed one"
                for e in terminal.requests
                # 10 % spare for the transit a realtime run adds to the POS's own clock
                if e is not dropped and t0 <= e["t"] < t0 + 0.9 * ACK_TIMEOUT and money(e)]
    return out


def sent_trailing_acks(terminal: Any, links: list[Any]) -> list[str]:
    """Every final frame got the POS's trailing ACK before its next request."""
    return [f"{link.name}: {link.session.missing_acks} final(s) never ACKed"
            for link in links if link.session.missing_acks]


def ignored_foreign_finals(links: list[Any]) -> list[str]:
    """No ACK while the POS's own request still ran (it took a stray final as its own)."""
    return [f"{link.name}: ACKed {link.session.early_acks} final(s) that were not its own"
            for link in links if link.session.early_acks]
