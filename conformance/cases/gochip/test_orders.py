"""Requests out of order and in races (semi-and-websockets.md §B.3, §B.6): POS sessions that
do not wait send the set-up steps, sales, cancels and queries in any order, or all at the
same instant. Every request is answered by its response frame or an error frame naming it
(messageTypeSource), the agent still serves a new POS afterwards, and the acquirer's books
equal what the POS was told."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import ledger_balanced, no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from protocol_servers.gochip.agent import Agent, AgentConfig
from protocol_servers.gochip.client import FINALS, GoChipClient, connect_local, told
from simulator.world import World

from .steps import ERRORS, sale_of, setup_and_sell

DEVICE = {"device": "IDTECH", "connectionType": "USB", "inputMethod": "INSERT"}
# request name -> (request type, data, the response types that answer it)
REQUESTS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "ws_init": ("REQ_WS_INIT", {"mode": "TEST"}, ("RES_ON_WS_INIT",)),
    "configure": ("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "1", "secret": "s"},
                  ("RES_ON_SETTINGS_RETRIEVED",)),
    "init": ("REQ_INIT_DEVICE", DEVICE, ("RES_ON_DEVICE_CONNECTED",)),
    "sale": ("REQ_PROCESS_SALE", {"amount": "12.50"}, FINALS),
    "cancel": ("REQ_CANCEL_TRANSACTION", {}, ("RES_ON_CANCEL_TRANSACTION_ATTEMPT",)),
    "amount": ("REQ_GET_CALCULATED_AMOUNT", {"amount": "10.00"},
               ("RES_ON_CALCULATED_AMOUNT_RESPONSE",)),
    "info": ("REQ_GET_DEVICE_INFO", {}, ("RES_ON_DEVICE_INFO_RETURNED",)),
}
DONE_WITHIN = 400.0  # past the card wait, the PIN entry, the host timeout and a signature


def _unanswered(c: GoChipClient) -> list[str]:
    """Request types sent more often than they were answered on this session."""
    out = []
    for name, (kind, _, answers) in REQUESTS.items():
        asked = sum(1 for m in c.sent if m["type"] == kind)
        got = sum(1 for m in c.received
                  if m.get("type") in answers
                  or (m.get("type") in ERRORS and m.get("messageTypeSource") == kind)
                  or (kind == "REQ_PROCESS_SALE"
                      and m.get("type") == "RES_ON_CANCEL_TRANSACTION_ATTEMPT"
                      and m["data"].get("cancellationStatus") == "CANCELLED"))
        if got < asked:
            out.append(f"{name}: {asked} sent, {got} answered")
    return out


@case("gochip/B.6/22", title="requests in any order and in concurrent bursts are all "
      "answered (their response or an error frame naming them), the agent keeps serving, "
      "and the books equal what the POS was told", failure="a request sent out of order or "
      "at the same instant as another goes unanswered, wedges the agent, or moves money "
      "the POS was not told of")
@given(schedule=request_schedules(ORDER_VOCABULARIES["gochip"]))
def test_orders_and_races(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("gochip") or options.mode != "virtual":
        pytest.skip("the schedules run the reference agent in virtual mode")
    world = World(seed=options.seed)
    agent = Agent(world, AgentConfig(readers=("reader0", "reader1"),
                                     customer={"presentation": "insert"}))
    clients = [connect_local(agent, f"pos{i}") for i in range(schedule.clients)]

    def send(s: Send) -> None:
        kind, data, _ = REQUESTS[s.request]
        clients[s.client].send(kind, data)

    world.run(until=play(world, schedule, send))
    world.run(until=world.now + DONE_WITHIN)
    bad = {c.end.name: _unanswered(c) for c in clients if _unanswered(c)}
    assert not bad, f"unanswered: {bad}"
    # nothing wedged: the sessions go away, a new POS sets up and sells
    for c in clients:
        c.close()
    world.run(until=world.now + 1.0)
    fresh = connect_local(agent, "after")
    proc = world.process(setup_and_sell(fresh, "7.00"))
    world.run(until=proc)
    assert sale_of(proc.value)["code"] == "A", proc.value
    clients.append(fresh)
    assert not agent.ledger_problems(), agent.ledger_problems()
    ledger_balanced(agent.bookings(), dict(told(clients)))
    no_full_pan(world.transcript)
