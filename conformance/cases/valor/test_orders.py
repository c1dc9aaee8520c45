"""Requests out of order and in races (semi-and-websockets.md §A.4, §A.9): POS connections on
several framings send sales, refunds, voids, status queries, pings, cancels and settlements
in any order, or all at the same instant. Every request is answered (its ACK and final
frame, the refusal frame of a busy terminal, the ping's ACK, the cancel port's answer),
the terminal still serves a new POS afterwards, and the acquirer's books equal what the
POS was told."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from protocol_servers.valor.pos import ValorPos
from protocol_servers.valor.terminal import ValorTerminal
from simulator.world import World

from .test_machine import SETTLE

FRAMINGS = ("bare", "ws", "stx")
REQUESTS: dict[str, dict[str, str]] = {
    "sale": {"TRAN_MODE": "1", "TRAN_CODE": "1", "AMOUNT": "1250"},
    "refund": {"TRAN_MODE": "1", "TRAN_CODE": "5", "AMOUNT": "700"},
    "void": {"TRAN_MODE": "0", "TRAN_CODE": "2", "TRAN_NO": "1", "AMOUNT": "0"},
    "settle": {"TRAN_MODE": "0", "TRAN_CODE": "9"},
    "status": {"TRAN_MODE": "90", "STAN_NO": "1"},
}
FINAL_TIMEOUT = 180.0  # Valor Connect's recommendation (§A.4)


@case("valor/A.4/20", title="requests in any order and in concurrent bursts on every framing "
      "are all answered, the terminal keeps serving, and the books equal what the POS was "
      "told", section="A.4", failure="a request sent out of order or at the same instant as "
      "another goes unanswered, wedges the terminal, or moves money the POS was not told of")
@given(schedule=request_schedules(ORDER_VOCABULARIES["valor"]))
def test_orders_and_races(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("valor") or options.mode != "virtual":
        pytest.skip("the schedules run the reference terminal in virtual mode")
    world = World(seed=options.seed)
    terminal = ValorTerminal(world)
    book: dict[str, dict[str, Any]] = {}
    tran_nos: dict[str, str] = {}
    outcomes: list[tuple[str, Any]] = []
    counter = [0]

    def pos(framing: str, cancel_port: bool = False) -> ValorPos:
        transport = "ws" if framing == "ws" else "tcp"
        end = terminal.connect_local(transport, cancel_port=cancel_port) if cancel_port \
            else terminal.connect_local(transport)
        counter[0] += 1
        return ValorPos(world, end, framing, name=f"pos{counter[0]}",  # type: ignore[arg-type]
                        book=book, by_tran_no=tran_nos)

    def exchange(s: Send) -> Generator[Any, Any, None]:
        framing = FRAMINGS[s.client % len(FRAMINGS)]
        if s.request == "ping":
            frame = yield from pos(framing).ping()
            outcomes.append((s.request, frame is not None))
        elif s.request == "cancel":
            canceller = pos("bare", cancel_port=True)
            idx = len(canceller.received)
            canceller.send({"TRAN_MODE": "99"})
            frame = yield from canceller.wait_frame(idx, 10.0)
            outcomes.append((s.request, frame is not None))
        elif s.request == "status":
            frame = yield from pos(framing).status("1")
            outcomes.append((s.request, frame is not None))
        else:
            counter[0] += 1
            req = {**REQUESTS[s.request], "REQ_TXN_ID": f"O{counter[0]}"}
            res = yield from pos(framing).transact(req, final_timeout=FINAL_TIMEOUT)
            outcomes.append((s.request, res.outcome == "final"))

    world.run(until=play(world, schedule, lambda s: world.process(exchange(s))))
    world.run(until=world.now + SETTLE)
    assert len(outcomes) == len(schedule.sends), "an exchange never ended"
    unanswered = [name for name, ok in outcomes if not ok]
    assert not unanswered, f"unanswered: {unanswered}"
    # nothing wedged: a new POS's sale is approved
    proc = world.process(pos("bare").transact({**REQUESTS["sale"], "REQ_TXN_ID": "after"},
                                              final_timeout=FINAL_TIMEOUT))
    world.run(until=proc)
    after: Any = proc.value
    assert after.outcome == "final" and after.state == "0", after
    problems = terminal.acquirer.ledger.check(list(book.values()))
    assert not problems, problems
    no_full_pan(world.transcript)
