"""semi-and-websockets.md §A.7/§A.9: the grades the terminal gives the POS, read by value.

When a vendor's POS drives the reference (``--serve valor``), the terminal's grades are
the only verdict the vendor gets, so they must say what really happened: a rule that a
fault put to the POS is reported as kept (with how often), not as "not seen"; a POS that
does the right thing is not accused; and a terminal that serves for days forgets each
connection that closed. The reference POS here keeps every rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.valor.conduct import (
    ignored_foreign_finals,
    observations,
    sent_trailing_acks,
)

from .steps import check_invariants, error_of, exchange, final_of, sale

ACK = b'{"STATE":"0","MSG":"ACK"}'


def _verdicts(terminal: Any) -> dict[str, tuple[str, str]]:
    return {o.case: (o.verdict, o.seen) for o in observations(terminal)}


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.9/22", title="after a stray foreign final that the POS dropped, the grade "
      "of that rule is 'kept 1 time', not 'not seen'", section="A.9",
      failure="the served terminal reports the foreign-final rule as never exercised although "
      "the fault was put to the POS: the vendor's report hides what was checked")
def test_foreign_final_grade_counts(valor: Any) -> None:
    valor.need_reference("grading reads the reference's sessions")
    pos = valor.pos()
    assert _verdicts(valor.terminal)["valor/A.9/104"][0] == "not seen"
    valor.arm("protocol.terminal_foreign_final")
    res = valor.run(exchange, pos, sale(1250, REQ_TXN_ID="FG-1"))
    assert final_of(res)["MER_TXN_ID"] == "FG-1" and pos.dropped_foreign == 1
    valor.settle(1.0)
    verdict = _verdicts(valor.terminal)["valor/A.9/104"]
    assert verdict == ("pass", "kept 1 time"), verdict
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.9/23", title="a POS that ACKs a 'PROCESSING ERROR' final (§A.4 step 6: an "
      "ACK after every final) is graded as keeping the trailing-ACK rule and is not accused "
      "of taking a foreign final", section="A.9",
      failure="the served terminal never closes the refused request, so the POS's correct "
      "ACK is graded as an ACK while its own request still ran")
def test_busy_final_takes_its_ack(valor: Any) -> None:
    valor.need_reference("grading reads the reference's sessions")
    first, second = valor.pos(), valor.pos(trailing_ack=False)

    def script():  # type: ignore[no-untyped-def]
        proc = valor.world.process(first.transact(sale(1250, REQ_TXN_ID="BG-1")))
        yield valor.world.timeout(1.0)
        other = yield from second.transact(sale(1300, REQ_TXN_ID="BG-2"))
        second.send_raw(ACK)  # the trailing ACK after the refusal's final
        res = yield proc
        yield valor.world.timeout(1.0)
        again = yield from second.transact(sale(1400, REQ_TXN_ID="BG-3"))
        second.send_raw(ACK)
        return res, other, again

    res, other, again = valor.run(script)
    assert final_of(res)["STATE"] == "0" and final_of(again)["STATE"] == "0"
    error_of(other, "PROCESSING ERROR")
    valor.settle(1.0)
    assert not ignored_foreign_finals(valor.terminal)
    assert not sent_trailing_acks(valor.terminal)
    # three finals, three trailing ACKs: the refusal's, and one for each sale
    verdicts = _verdicts(valor.terminal)
    assert verdicts["valor/A.9/103"] == ("pass", "kept 3 times"), verdicts
    assert verdicts["valor/A.9/104"][0] == "not seen", verdicts
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["ws", "bare"])
@case("valor/A.2/2", title="a terminal serving for days forgets each connection that "
      "closed: after POSes come and go, only the open ones are counted", section="A.2",
      failure="every connection ever served stays held: a terminal that runs for days "
      "grows without bound and its state reports POSes long gone")
def test_closed_connections_are_forgotten(valor: Any) -> None:
    valor.need_reference("the count is the reference's control state")
    stays = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        yield from stays.ping()
        for n in range(3):
            pos = valor.pos()
            yield from pos.ping()
            if n == 1:
                yield from exchange(pos, sale(1250 + n))
            pos.end.close()
            yield valor.world.timeout(1.0)

    valor.run(script)
    valor.settle(1.0)
    state = valor.terminal.state()
    assert state["connections"] == 1, state
    assert state["pos"]["trailing_acks"] == 1, state["pos"]
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["ws"])
@case("valor/A.9/25", title="the trailing-ACK grade counts the ACKs that answer a final and "
      "only those: a second ACK is not a trailing ACK, a skipped one is a finding",
      section="A.9", failure="the served terminal counts any ACK, or a request after an "
      "un-ACKed final, as a trailing ACK: a POS that skips them is reported as keeping the "
      "rule")
def test_trailing_ack_counts(valor: Any) -> None:
    valor.need_reference("grading reads the reference's sessions")
    pos = valor.pos(trailing_ack=False)

    def script():  # type: ignore[no-untyped-def]
        first = yield from exchange(pos, sale(1000, REQ_TXN_ID="TA-1"))
        pos.send_raw(ACK)
        yield valor.world.timeout(0.5)
        pos.send_raw(ACK)  # a second ACK: nothing is waiting for it
        yield valor.world.timeout(0.5)
        second = yield from exchange(pos, sale(1100, REQ_TXN_ID="TA-2"))  # never ACKed
        third = yield from exchange(pos, sale(1200, REQ_TXN_ID="TA-3"))
        pos.send_raw(ACK)
        yield valor.world.timeout(0.5)
        return first, second, third

    for res in valor.run(script):
        assert final_of(res)["STATE"] == "0"
    valor.settle(1.0)
    counts = valor.terminal.state()["pos"]
    assert (counts["trailing_acks"], counts["finals_never_acked"],
            counts["acks_before_final"]) == (2, 1, 0), counts
    verdict, seen = _verdicts(valor.terminal)["valor/A.9/103"]
    assert verdict == "fail" and "1 final(s) never ACKed" in seen, (verdict, seen)
    check_invariants(valor)
