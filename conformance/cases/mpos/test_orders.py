"""Requests out of order and in races (mpos-bridge.md §2.6, §2.7): POS connections that do
not wait send list, initialize, process, finish, display, status and close for shared
contexts in any order, or all at the same instant (two connections naming one context is
the race of §2.6). Every request gets one answer in the response schema, the bridge still
serves a whole sale afterwards, and no money moves except through the merchant API (the
bridge books nothing by itself)."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given

from conformance import case
from conformance.invariants import no_full_pan
from conformance.options import get_options
from conformance.strategies import ORDER_VOCABULARIES, Schedule, Send, play, request_schedules
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import MposClient, is_unsolicited
from protocol_servers.mpos.lab import build_lab
from simulator.world import World

from .steps import check_response, first_device

CONTEXTS = ("a", "b", "a")  # the third connection names the first one's context
AMOUNT = 2590
DONE_WITHIN = 400.0  # past the bridge's 180 s blocking-command limit and a close's retries
REQUESTS: dict[str, tuple[int, dict[str, Any]]] = {
    "list": (1, {}),
    "initialize": (2, {"initialize": {"encryption_key": "ek_test_cardloop",
                                      "baud_rate": 19200, "simple_initialize": False,
                                      "timeout_milliseconds": 0}}),
    "process": (4, {"process": {"amount": AMOUNT, "magstripe_payment_method": 1}}),
    "finish": (5, {"finish": {"success": False, "response_code": 0, "emv_data": None}}),
    "display": (6, {"display_message": {"message": "OLA"}}),
    "status": (7, {}),
    "close": (8, {}),
}


class _Conn:
    """A POS connection that sends without waiting and files every frame it gets."""

    def __init__(self, world: World, end: Any) -> None:
        self.end = end
        self.sent = 0
        self.answers: list[dict[str, Any]] = []
        world.process(self._reader())

    def _reader(self) -> Generator[Any, Any, None]:
        while True:
            text = yield self.end.recv()
            if text is None:
                return
            frame = json.loads(text)
            if not is_unsolicited(frame):
                self.answers.append(frame)


@case("mpos/2.6/20", title="requests in any order and in concurrent bursts, several "
      "connections on one context, are all answered in the response schema; the bridge "
      "keeps serving and books nothing by itself", section="2.6", failure="a request sent "
      "out of order or at the same instant as another goes unanswered, breaks the schema, "
      "or leaves a reader that no sale can use")
@given(schedule=request_schedules(ORDER_VOCABULARIES["mpos"]))
def test_orders_and_races(request: pytest.FixtureRequest, schedule: Schedule) -> None:
    options = get_options(request.config)
    if options.targets.get("mpos") or options.mode != "virtual":
        pytest.skip("the schedules run the reference bridge in virtual mode")
    world = World(seed=options.seed)
    lab = build_lab(world, readers=2)
    for r in range(2):
        lab.queue_card(r, card_from_name(world, "visa-chip-pin"))
    conns = [_Conn(world, lab.connect(f"pos{i}")) for i in range(schedule.clients)]

    def send(s: Send) -> None:
        kind, body = REQUESTS[s.request]
        conn = conns[s.client]
        conn.sent += 1
        conn.end.send(json.dumps({"request_type": kind,
                                  "context_id": CONTEXTS[s.client % len(CONTEXTS)], **body}))

    world.run(until=play(world, schedule, send))
    world.run(until=world.now + DONE_WITHIN)
    for i, conn in enumerate(conns):
        assert len(conn.answers) == conn.sent, (
            f"connection {i}: {conn.sent} requests, {len(conn.answers)} answers")
        for frame in conn.answers:
            check_response(frame)
    # nothing wedged: a new POS frees the contexts (they are global, §2.6) and sells
    c = MposClient(world, lab.connect("after"))

    def sale() -> Generator[Any, Any, Any]:
        for ctx in ("a", "b"):
            closed = yield from c.close(ctx)
            assert closed["response_type"] == 8, closed
        dev = yield from first_device(c, "after")
        init = yield from c.initialize("after", dev)
        assert init["response_type"] in (2, 3), init
        proc = yield from c.process("after", AMOUNT)
        yield from c.finish("after", success=False, response_code=0, emv_data=None)
        yield from c.close("after")
        return proc

    proc = world.process(sale())
    world.run(until=proc)
    got: Any = proc.value
    assert got["response_type"] == 4 and got["process"]["card_hash"], got
    assert list(lab.backend.host.ledger.entries) == [], "the bridge booked money by itself"
    no_full_pan(world.transcript, [card_from_name(world, "visa-chip-pin").pan])
