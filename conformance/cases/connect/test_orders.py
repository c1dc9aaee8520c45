"""Requests out of order and in races (paymentsense-connect.md §7): EPoS sockets that do
not wait send terminal queries, sales, refunds, cancels, duplicates and reports for one
terminal in any order, or all at the same instant. Every request gets its JSON-RPC answer
(a result or an error object), the server still serves a new socket afterwards, and the
acquirer's books equal what the EPoS was told."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.server import ConnectServer, ServerConfig
from simulator.world import World

from .conftest import GBP
from .steps import KNOWN_PANS
from .test_sessions_machine import LIMIT

REQUESTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "terminals": ("connectedTerminals", None),
    "details": ("terminalDetails", {"tid": GBP}),
    "sale": ("sale", {"tid": GBP, "currency": "GBP", "amount": 1234}),
    "refund": ("refund", {"tid": GBP, "currency": "GBP", "amount": 500}),
    "cancel": ("cancelTransaction", {"tid": GBP}),
    "duplicate": ("duplicate", {"tid": GBP}),
    "report": ("reportXBalance", {"tid": GBP}),
}


@case("connect/7/22", title="requests in any order and in concurrent bursts are all "
      "answered, the server keeps serving, and the books equal what the EPoS was told",
      section="7", failure="a request sent out of order or at the same instant as another "
      "goes unanswered, wedges a terminal, or moves money the EPoS was not told of")
@given(schedule=request_schedules(ORDER_VOCABULARIES["connect"]))
def test_orders_and_races(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("connect") or options.mode != "virtual":
        pytest.skip("the schedules run the reference server in virtual mode")
    world = World(seed=options.seed)
    config = ServerConfig()
    server = ConnectServer(world, replace(config, terminals=tuple(
        t for t in config.terminals if t.tid == GBP)))

    def client(name: str) -> ConnectClient:
        end, refusal = server.connect_local(server.url(), name)
        assert refusal is None, refusal
        return ConnectClient(world, end)

    clients = [client(f"epos{i}") for i in range(schedule.clients)]
    sent: list[tuple[ConnectClient, str, Any]] = []

    def send(s: Send) -> None:
        method, params = REQUESTS[s.request]
        c = clients[s.client]
        sent.append((c, method, c.request(method, params)))

    world.run(until=play(world, schedule, send))
    world.run(until=world.now + LIMIT)
    unanswered = []
    for c, method, rid in sent:
        proc = world.process(c.wait(rid, 0.0))
        world.run(until=proc)
        rsp = proc.value
        # a JSON-RPC response to that id: a result or an error object, never both
        if rsp is None or (rsp.error is not None and rsp.result is not None):
            unanswered.append((method, rid))
            continue
        if rsp.error is None and isinstance(rsp.result, dict) and "transactionId" in rsp.result:
            c.remember(rsp.result)
    assert not unanswered, f"unanswered or out of shape: {unanswered}"
    assert all(t.busy_with is None for t in server.terminals.values()), "a terminal stayed busy"
    # nothing wedged: a new socket's sale runs to SUCCESSFUL
    fresh = client("after")
    clients.append(fresh)
    proc = world.process(fresh.transaction("sale", GBP, 700))
    world.run(until=world.any_of([proc, world.timeout(LIMIT)]))
    assert proc.triggered and proc.value is not None and proc.value.error is None, proc
    assert proc.value.result["transactionResult"] == "SUCCESSFUL", proc.value.result
    told = list({v["key"]: v for c in clients for v in c.pos_view}.values())
    problems = server.acquirer.ledger.check(told)
    assert not problems, problems
    no_full_pan(world.transcript, known_pans=KNOWN_PANS)
