"""The POS graders of the Valor cases fail a careless POS (so a pass means something)."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

from protocol_servers.valor.conduct import (
    ignored_foreign_finals,
    observations,
    recovered_by_stan,
    sent_trailing_acks,
    waited_for_ack,
)
from protocol_servers.valor.pos import ValorPos
from protocol_servers.valor.terminal import ValorTerminal
from simulator.world import World

warnings.filterwarnings("ignore", message=".*TripleDES.*")
SALE = {"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": "1250", "REQ_TXN_ID": "G-1"}


def _setup() -> tuple[World, ValorTerminal]:
    world = World(seed=5)
    return world, ValorTerminal(world)


def _run(world: World, gen: Generator[Any, Any, Any]) -> Any:
    proc = world.process(gen)
    value = world.run(until=proc)
    world.run(until=world.now + 200.0)  # whatever the terminal still runs ends
    return value


def test_blind_retry_after_a_drop_is_caught() -> None:
    world, term = _setup()
    term.set_knob("drop_after_stan")
    pos = ValorPos(world, term.connect_local("tcp"), "bare")

    def careless() -> Generator[Any, Any, Any]:
        res = yield from pos.transact(SALE)
        yield world.timeout(60.0)  # (a retry while the sale runs gets PROCESSING ERROR)
        pos.reconnect(term.connect_local("tcp"))
        yield from pos.transact(SALE)  # retried instead of asking for the STAN
        return res.stan

    stan = _run(world, careless())
    assert recovered_by_stan(term, stan)
    sales = [e for e in term.acquirer.ledger.entries if e.kind == "sale"]
    assert len(sales) == 2, "the blind retry charged twice"
    assert any("unknown to the POS" in p for p in term.acquirer.ledger.check(pos.told()))


def test_recovery_by_stan_passes() -> None:
    world, term = _setup()
    term.set_knob("drop_after_stan")
    pos = ValorPos(world, term.connect_local("tcp"), "bare")

    def careful() -> Generator[Any, Any, Any]:
        res = yield from pos.transact(SALE)
        yield from pos.recover(lambda: term.connect_local("tcp"), res.stan, SALE)
        return res.stan

    stan = _run(world, careful())
    assert recovered_by_stan(term, stan) == []
    assert term.acquirer.ledger.check(pos.told()) == []


def test_missing_trailing_ack_is_caught() -> None:
    world, term = _setup()
    pos = ValorPos(world, term.connect_local("ws"), "ws", trailing_ack=False)

    def two() -> Generator[Any, Any, Any]:
        yield from pos.transact(SALE)
        yield from pos.transact({**SALE, "REQ_TXN_ID": "G-2"})

    _run(world, two())
    assert sent_trailing_acks(term)


def test_taking_a_foreign_final_is_caught() -> None:
    world, term = _setup()
    term.set_knob("foreign_final")
    pos = ValorPos(world, term.connect_local("tcp"), "newline")
    # without its own REQ_TXN_ID the POS cannot tell the stray final from its own
    res = _run(world, pos.transact({k: v for k, v in SALE.items() if k != "REQ_TXN_ID"}))
    assert res.final["MER_TXN_ID"].startswith("FOREIGN")
    world.run(until=world.now + 5)
    assert ignored_foreign_finals(term)


def test_sending_inside_the_ack_window_is_caught() -> None:
    world, term = _setup()
    term.set_knob("no_ack")
    pos = ValorPos(world, term.connect_local("tcp"), "bare")

    def impatient() -> Generator[Any, Any, Any]:
        pos.send(SALE)
        yield world.timeout(1.0)
        yield from pos.transact({**SALE, "REQ_TXN_ID": "G-3"})

    _run(world, impatient())
    assert waited_for_ack(term)


def test_terminal_bookings_match_the_acquirer() -> None:
    """The terminal's own view of what it booked agrees with the acquirer's ledger."""
    world, term = _setup()
    pos = ValorPos(world, term.connect_local("tcp"), "stx")

    def day() -> Generator[Any, Any, Any]:
        res = yield from pos.transact({**SALE, "AMOUNT": "2300"})  # partial approval
        assert res.final["PARTIAL"] == "1" and res.final["AMOUNT"] == "1500"
        sale = yield from pos.transact({**SALE, "REQ_TXN_ID": "G-4"})
        yield from pos.transact({"TRAN_MODE": "0", "TRAN_CODE": "20", "TIP_AMOUNT": "100",
                                 "TRAN_NO": sale.final["TRAN_NO"]})
        yield from pos.transact({"TRAN_MODE": "0", "TRAN_CODE": "2", "AMOUNT": "0",
                                 "TRAN_NO": res.final["TRAN_NO"]})

    _run(world, day())
    assert term.acquirer.ledger.check(term.bookings()) == []
    assert term.acquirer.ledger.check(pos.told()) == []
    assert term.acquirer.ledger.balance()["settled"] == 1350


def _verdicts(term: ValorTerminal) -> dict[str, str]:
    return {o.case: o.verdict for o in observations(term)}


def test_observations_pass_a_careful_pos_and_fail_a_blind_retry() -> None:
    world, term = _setup()
    term.set_knob("drop_after_stan")
    pos = ValorPos(world, term.connect_local("tcp"), "bare")

    def careful() -> Generator[Any, Any, Any]:
        res = yield from pos.transact(SALE)
        yield from pos.recover(lambda: term.connect_local("tcp"), res.stan, SALE)
        yield world.timeout(10.0)  # the terminal prints the recovered sale's receipt
        yield from pos.transact({**SALE, "REQ_TXN_ID": "G-5"})

    _run(world, careful())
    assert _verdicts(term) == {"valor/A.9/101": "pass", "valor/A.9/102": "not seen",
                               "valor/A.9/103": "pass", "valor/A.9/104": "not seen"}

    world, term = _setup()
    term.set_knob("drop_after_stan")
    pos = ValorPos(world, term.connect_local("tcp"), "bare")

    def careless() -> Generator[Any, Any, Any]:
        yield from pos.transact(SALE)
        yield world.timeout(60.0)
        pos.reconnect(term.connect_local("tcp"))
        yield from pos.transact(SALE)

    _run(world, careless())
    found = {o.case: o for o in observations(term)}
    assert found["valor/A.9/101"].verdict == "fail"
    assert "blind retry" in found["valor/A.9/101"].seen


def test_grades_are_kept_in_bounded_memory() -> None:
    """A terminal that serves for days folds each rule as it goes: a POS that never
    recovers thousands of STANs is failed for every one, yet only OPEN_STANS are held."""
    from protocol_servers.valor.conduct import OPEN_STANS, Conduct

    conduct = Conduct()
    for n in range(1, 3 * OPEN_STANS):
        conduct.request(float(n), "1", "1")
        conduct.started(str(n), conduct.money_requests)
        conduct.unresolved(str(n))
        assert len(conduct._open) <= OPEN_STANS
    recovery = conduct.grades([])[0]
    assert recovery.times == 3 * OPEN_STANS - 1 and recovery.reasons
    # the newest one is still open: a query for it now passes it
    last = str(3 * OPEN_STANS - 1)
    conduct.request(1e6, "90", "", last)
    assert conduct.recovery_of(last) == []


def test_ended_connections_are_let_go_with_their_grades_kept() -> None:
    world, term = _setup()

    def day() -> Generator[Any, Any, Any]:
        for n in range(5):
            pos = ValorPos(world, term.connect_local("ws"), "ws", trailing_ack=n != 3)
            yield from pos.transact({**SALE, "REQ_TXN_ID": f"B-{n}"})
            yield from pos.transact({**SALE, "REQ_TXN_ID": f"B-{n}x"})
            pos.close()
            yield world.timeout(1.0)

    _run(world, day())
    assert term.links == []  # nothing of an ended connection is kept
    found = {o.case: o for o in observations(term)}
    assert found["valor/A.9/103"].verdict == "fail"
    assert "never ACKed" in found["valor/A.9/103"].seen
    assert term.state()["pos"]["trailing_acks"] >= 8
