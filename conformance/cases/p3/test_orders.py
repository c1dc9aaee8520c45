"""Requests out of order and in races (payworks-p3.md §2.4, §15): POS connections that do
not wait send logins, charges, refunds, aborts and signatures in any order, or all at the
same instant. Every request is answered with its tag and a status, the server still serves
a new POS afterwards, and the acquirer's books equal what the POS was told."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import ledger_balanced, no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from protocol_servers.p3.client import P3Client, connect_local, told
from protocol_servers.p3.server import PayServer
from simulator.world import World

from .steps import MOCK_PAN
from .test_sessions_machine import DONE_WITHIN, RESOURCE

pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
LOGIN = {"providerMode": "MOCK", "merchantIdentifier": "m", "merchantSecret": "s"}


def _send(c: P3Client, name: str) -> str:
    if name == "login":
        return c.request("LOGIN_MERCHANT_REQUEST", LOGIN)
    if name == "charge":
        return c.execute(RESOURCE, amount="40.00")
    if name == "refund":
        return c.execute(RESOURCE, type_="REFUND", amount="5.00")
    if name == "abort":
        return c.request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)
    if name == "abort_operation":
        return c.request("ABORT_OPERATION_REQUEST", None, RESOURCE)
    return c.request("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}, RESOURCE)


def _answered_in_shape(c: P3Client, tag: str) -> bool:
    """A response with the request's tag, a status, and an error body when it failed."""
    for m in c.messages(tag):
        if "status" not in m or not str(m.get("type", "")).endswith("_RESPONSE"):
            continue
        return m["status"] == "OK" or (m["status"] == "ERROR" and "error" in m)
    return False


@case("p3/2.4/20", title="requests in any order and in concurrent bursts are all answered "
      "with their tag, the server keeps serving, and the books equal what the POS was told",
      section="2.4", failure="a request sent out of order or at the same instant as another "
      "goes unanswered, wedges the server, or moves money the POS was not told of")
@given(schedule=request_schedules(ORDER_VOCABULARIES["p3"]))
def test_orders_and_races(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("p3") or options.mode != "virtual":
        pytest.skip("the schedules run the reference server in virtual mode")
    world = World(seed=options.seed)
    server = PayServer(world)
    clients = [connect_local(server, "ws" if i % 2 == 0 else "tcp", f"pos{i}")
               for i in range(schedule.clients)]
    tags: list[tuple[P3Client, str, str]] = []

    def send(s: Send) -> None:
        c = clients[s.client]
        tags.append((c, s.request, _send(c, s.request)))

    world.run(until=play(world, schedule, send))
    world.run(until=world.now + DONE_WITHIN)
    unanswered = [(name, tag) for c, name, tag in tags if not _answered_in_shape(c, tag)]
    assert not unanswered, f"unanswered or out of shape: {unanswered}"
    # nothing wedged: a new POS logs in and its charge runs to its final answer
    fresh = connect_local(server, "ws", "after")
    clients.append(fresh)

    def again() -> Any:
        login = yield from fresh.response(fresh.request("LOGIN_MERCHANT_REQUEST", LOGIN),
                                          timeout=30)
        final = yield from fresh.final(fresh.execute(RESOURCE, amount="40.00"), DONE_WITHIN)
        return login, final

    proc = world.process(again())
    world.run(until=proc)
    outcome: Any = proc.value
    login, final = outcome
    assert login is not None and login["status"] == "OK", login
    assert final is not None and final["status"] == "OK", final
    assert final["executeTransactionResponse"]["transaction"]["status"] == "APPROVED", final
    assert server.gateway.ledger.balanced, server.gateway.ledger.problems()
    ledger_balanced(server.gateway.ledger.bookings(), told(clients))
    no_full_pan(world.transcript, known_pans=[MOCK_PAN])
