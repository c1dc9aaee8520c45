"""mpos-bridge.md §2.6 as a whole: a Hypothesis state machine over bridge sessions.

POS connections come and go and send any mix of valid and invalid requests on two
shared contexts, without waiting for answers; the merchant step runs whenever a
process is accepted; faults hit the WebSocket and the serial lines. After every step:
one answer per request on each open connection, context states consistent with the
devices they hold, the acquirer's ledger equal to what the merchant API told the POS,
and no full PAN in the transcript. Reference bridge in virtual mode only.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from conformance import case
from conformance.options import get_options
from conformance.strategies import ProtocolMachine, fault_specs, run_machine
from protocol_servers.merchant_api import MerchantError
from protocol_servers.mpos_bridge.cards import card_from_name
from protocol_servers.mpos_bridge.client import is_unsolicited
from protocol_servers.mpos_bridge.codec import ContextStatus
from protocol_servers.mpos_bridge.lab import build_lab

CARDS = [
    "visa-chip-pin",
    "mc-issuer-decline",
    "visa-expired",
    "magstripe-credit",
    "mc-mute-chip-fallback",
    "elo-debit",
    "visa-online-pin",
]
CONTEXTS = ["a", "b", None]
INVALID = [
    '{"request_type":',
    "[1,2]",
    '{"request_type":"pay"}',
    '{"request_type":42}',
    '{"request_type":4,"process":{"amount":"x"}}',
    '{"request_type":3}',
    '""',
]
PORTS = {"serial": ["bridge.serial0", "bridge.serial1"], "ws": ["bridge.ws*"]}


class Conn:
    def __init__(self, machine: MposSessions, index: int) -> None:
        self.end = machine.lab.connect(f"pos{index}")
        self.index = index
        self.sent = 0
        self.answers: list[dict[str, Any]] = []
        self.unsolicited: list[dict[str, Any]] = []
        self.open = True
        machine.world.process(self._reader(machine))

    def _reader(self, machine: MposSessions):  # type: ignore[no-untyped-def]
        while True:
            text = yield self.end.recv()
            if text is None:
                return
            frame = json.loads(text)
            if is_unsolicited(frame):
                self.unsolicited.append(frame)
                continue
            self.answers.append(frame)
            machine.on_answer(self, frame)


class MposSessions(ProtocolMachine):
    settle_for = 60.0

    def setup_world(self) -> None:
        self.lab = build_lab(self.world, readers=2)
        for r in range(2):
            for name in CARDS:
                self.lab.queue_card(r, card_from_name(self.world, name))
        self.conns: list[Conn] = []
        self.amounts: dict[int, int] = {}  # connection -> amount of its last process
        self.told: dict[Hashable, int] = {}

    # -- the POS's merchant step ------------------------------------------------------
    def on_answer(self, conn: Conn, frame: dict[str, Any]) -> None:
        proc = frame.get("process")
        if frame.get("response_type") == 4 and isinstance(proc, dict) and proc.get("card_hash"):
            amount = self.amounts.get(conn.index, 100)
            try:
                txn = self.lab.backend.create_transaction(proc["card_hash"], amount)
            except MerchantError:
                return
            if txn.status == "authorized":
                self.told[txn.reference] = txn.amount

    def _refill(self) -> None:
        for r in self.lab.readers:
            if len(r.pinpad.cards) < 2:
                for name in CARDS:
                    r.pinpad.queue_card(card_from_name(self.world, name))

    def _live(self) -> list[Conn]:
        return [c for c in self.conns if c.open]

    # -- rules --------------------------------------------------------------------------
    @precondition(lambda self: len(self._live()) < 3)
    @rule()
    def connect(self) -> None:
        self.conns.append(Conn(self, len(self.conns)))

    @precondition(lambda self: self._live())
    @rule(
        i=st.integers(0, 2),
        ctx=st.sampled_from(CONTEXTS),
        kind=st.sampled_from(
            ["list", "init", "init-simple", "process", "finish", "display", "status", "close"]
        ),
        device=st.sampled_from([0, 1, None]),
        amount=st.integers(1, 99_999),
        success=st.booleans(),
        code=st.sampled_from([0, 5, 51, 1011]),
    )
    def request(
        self,
        i: int,
        ctx: str | None,
        kind: str,
        device: int | None,
        amount: int,
        success: bool,
        code: int,
    ) -> None:
        c = self._live()[i % len(self._live())]
        self._refill()
        body: dict[str, Any] = {"context_id": ctx}
        if kind == "list":
            body["request_type"] = 1
        elif kind.startswith("init"):
            body["request_type"] = 2
            init: dict[str, Any] = {"simple_initialize": kind == "init-simple", "baud_rate": 19200}
            if device is not None:
                init["device_id"] = self.lab.readers[device].device.id
            body["initialize"] = init
        elif kind == "process":
            body["request_type"] = 4
            body["process"] = {"amount": amount}
            self.amounts[c.index] = amount
        elif kind == "finish":
            body["request_type"] = 5
            body["finish"] = {"success": success, "response_code": code, "emv_data": None}
        elif kind == "display":
            body["request_type"] = 6
            body["display_message"] = {"message": "cardloop"}
        elif kind == "status":
            body["request_type"] = 7
        else:
            body["request_type"] = 8
        c.sent += 1
        c.end.send(json.dumps(body))

    @precondition(lambda self: self._live())
    @rule(i=st.integers(0, 2), junk=st.sampled_from(INVALID))
    def invalid(self, i: int, junk: str) -> None:
        c = self._live()[i % len(self._live())]
        c.sent += 1
        c.end.send(junk)

    @precondition(lambda self: self._live())
    @rule(i=st.integers(0, 2))
    def disconnect(self, i: int) -> None:
        c = self._live()[i % len(self._live())]
        c.open = False
        c.end.close()

    @rule(layer=st.sampled_from(["serial", "ws"]), data=st.data())
    def fault(self, layer: str, data: st.DataObject) -> None:
        spec = data.draw(
            fault_specs(
                layers=["serial"] if layer == "serial" else ["transport"], expect=["completes"]
            )
        )
        port = data.draw(st.sampled_from(PORTS[layer]))
        when = data.draw(st.lists(st.integers(0, 40), min_size=1, max_size=2, unique=True))
        self.world.faults.add(
            spec.to_fault(port, data.draw(st.sampled_from(["rx", "tx"])), on=tuple(sorted(when)))
        )

    @rule(seconds=st.sampled_from([0.5, 5.0, 30.0]))
    def wait(self, seconds: float) -> None:
        self.world.run(until=self.world.now + seconds)

    # -- what the invariants see ---------------------------------------------------------
    def settle(self) -> None:
        super().settle()
        asked: list[Hashable] = []
        answered: list[Hashable] = []
        for c in self.conns:
            if not c.open:
                continue  # answers to a closed socket cannot arrive
            asked += [(c.index, n) for n in range(c.sent)]
            answered += [(c.index, n) for n in range(len(c.answers))]
        self.book.asked = asked
        self.book.answered = answered
        self.book.told = dict(self.told)

    def ledger(self) -> Iterable[tuple[Hashable, int]]:
        return [
            (e.ref, e.amount)
            for e in self.lab.backend.host.ledger.entries
            if e.live and e.kind == "sale"
        ]

    def known_pans(self) -> Iterable[str]:
        return [card_from_name(self.world, n).pan for n in CARDS]

    @invariant()
    def contexts_consistent(self) -> None:
        owners: dict[str, str] = {}
        for ctx in self.lab.server.contexts:
            if ctx.status in (ContextStatus.Ready, ContextStatus.InUse):
                assert ctx.device_id is not None, (
                    f"context {ctx.id} is {ctx.status.name} without a device"
                )
            if ctx.device_id is not None:
                assert ctx.device_id not in owners, (
                    f"device {ctx.device_id} held by {owners.get(ctx.device_id)} and {ctx.id}"
                )
                owners[ctx.device_id] = ctx.id
        for r in self.lab.readers:
            dev = r.device
            if dev.owner is not None:
                assert owners.get(dev.id) == dev.owner, f"{dev.port} owner {dev.owner} unknown"


@case(
    "mpos/2.6/8",
    title="any interleaving of sessions, bad input and faults keeps the rules",
    section="2.6",
    failure="some sequence of requests and faults breaks one answer per "
    "request, the context table, the ledger, or leaks a PAN",
)
def test_session_machine(request: pytest.FixtureRequest, mpos_target: Any) -> None:
    if not mpos_target.reference or mpos_target.world.mode != "virtual":
        pytest.skip("the state machine runs the reference bridge in virtual mode")
    run_machine(MposSessions, get_options(request.config), stateful_step_count=15)
