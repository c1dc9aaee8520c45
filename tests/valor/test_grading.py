"""The POS graders of the Valor cases fail a careless POS (so a pass means something)."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import Any

from conformance.cases.valor.grading import (
    ignored_foreign_finals,
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
    assert sent_trailing_acks(term, term.links)


def test_taking_a_foreign_final_is_caught() -> None:
    world, term = _setup()
    term.set_knob("foreign_final")
    pos = ValorPos(world, term.connect_local("tcp"), "newline")
    # without its own REQ_TXN_ID the POS cannot tell the stray final from its own
    res = _run(world, pos.transact({k: v for k, v in SALE.items() if k != "REQ_TXN_ID"}))
    assert res.final["MER_TXN_ID"].startswith("FOREIGN")
    world.run(until=world.now + 5)
    assert ignored_foreign_finals(term.links)


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
