"""Steps the Valor cases share: requests, the whole exchange, and the invariants."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from conformance.invariants import InvariantViolation, no_full_pan
from protocol_servers.valor.pos import Result, ValorPos

Gen = Generator[Any, Any, Any]
SALE = {"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": "1250"}


def sale(amount: int = 1250, **extra: str) -> dict[str, str]:
    return {**SALE, "AMOUNT": str(amount), **extra}


def fetch(code: str, **extra: str) -> dict[str, str]:
    return {"TRAN_MODE": "0", "TRAN_CODE": code, **extra}


def exchange(pos: ValorPos, request: dict[str, str], timeout: float = 180.0) -> Gen:
    res: Result = yield from pos.transact(request, final_timeout=timeout)
    return res


def final_of(res: Result) -> dict[str, Any]:
    assert res.outcome == "final", f"no final frame: {res.outcome} after {res.frames}"
    assert res.final is not None
    return res.final


def error_of(res: Result, text: str) -> dict[str, Any]:
    final = final_of(res)
    assert final.get("STATE") == "-1", f"expected STATE -1 {text!r}, got {final}"
    assert final.get("ERROR_MSG") == text, f"expected {text!r}, got {final.get('ERROR_MSG')!r}"
    return final


def check_invariants(target: Any) -> None:
    """After a case: no PAN in clear, values are strings, the ledger matches the POS."""
    no_full_pan(target.world.transcript)
    for p in target.poses:
        for frame in p.received:
            bad = [k for k, v in frame.items() if not isinstance(v, str)]
            if bad:
                raise InvariantViolation(f"non-string values {bad} in {frame}")
    term = target.terminal
    if term is None:
        return
    problems = term.acquirer.ledger.check(list(target.book.values()))
    if problems:
        raise InvariantViolation("ledger and POS disagree: " + "; ".join(problems))
