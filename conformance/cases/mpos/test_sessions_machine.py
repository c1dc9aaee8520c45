"""mpos-bridge.md §2.6 as a whole: a Hypothesis state machine over bridge sessions.

POS connections come and go and send any mix of valid and invalid requests on two
shared contexts, without waiting for answers; the merchant step runs whenever a
process is accepted, and a finish that says the card declined a sale the host approved
makes the POS reverse that sale on the merchant API; faults hit the WebSocket and the
serial lines. After every step: one answer per request on each open connection, context
states consistent with the devices they hold, the acquirer's ledger equal to what the
merchant API told the POS, and no full PAN in the transcript. Reference bridge in virtual mode only.
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
from protocol_servers.mpos.cards import card_from_name
from protocol_servers.mpos.client import is_unsolicited
from protocol_servers.mpos.codec import CARD_DECLINED, ContextStatus
from protocol_servers.mpos.lab import build_lab

CARDS = [
    "visa-chip-pin",
    "visa-card-decline-2nd-gac",  # early in the queue, so short runs reach it
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
            for name in CARDS[r:] + CARDS[:r]:  # reader 1 starts with the card that declines
                self.lab.queue_card(r, card_from_name(self.world, name))
        # once per example: personalising the cards again at every step cost more than
        # the step itself
        self.pans = [card_from_name(self.world, n).pan for n in CARDS]
        self.conns: list[Conn] = []
        self.amounts: dict[int, int] = {}  # connection -> amount of its last process
        self.told: dict[Hashable, int] = {}
        # context_id -> the merchant transaction of its last accepted process
        self.pending: dict[Any, Any] = {}
        # (connection, context_id) whose POS finishes with the merchant's answer by itself
        self.auto_finish: set[tuple[int, Any]] = set()

    # -- the POS's merchant step ------------------------------------------------------
    def on_answer(self, conn: Conn, frame: dict[str, Any]) -> None:
        proc = frame.get("process")
        ctx = frame.get("context_id")
        if frame.get("response_type") == 9 and frame.get("error") == CARD_DECLINED:
            # the card refused at FNC what the host approved: undo that sale (§3.3)
            # (no transaction when the merchant step failed: then nothing was booked)
            txn = self.pending.pop(ctx, None)
            if txn is not None and txn.status == "authorized":
                self.lab.backend.reverse_transaction(txn.id)
                self.told.pop(txn.reference, None)
            return
        if frame.get("response_type") == 4 and isinstance(proc, dict) and proc.get("card_hash"):
            self.pending.pop(ctx, None)
            amount = self.amounts.get(conn.index, 100)
            try:
                txn = self.lab.backend.create_transaction(proc["card_hash"], amount)
            except MerchantError:
                return
            self.pending[ctx] = txn
            if txn.status == "authorized":
                self.told[txn.reference] = txn.amount
        if frame.get("process") is not None and (conn.index, ctx) in self.auto_finish:
            self.auto_finish.discard((conn.index, ctx))
            if conn.open:
                conn.sent += 1
                conn.end.send(json.dumps(self._finish_told(ctx)))

    def _finish_told(self, ctx: Any) -> dict[str, Any]:
        """Finish as a well-behaved POS does: with the merchant API's answer (§2.5)."""
        txn = self.pending.get(ctx)
        code = txn.acquirer_response_code if txn is not None else "0"
        return {
            "request_type": 5,
            "context_id": ctx,
            "finish": {
                "success": txn is not None,
                "response_code": int(code) if code.isdigit() else 9999,
                "emv_data": txn.card_emv_response if txn is not None else None,
            },
        }

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
            [
                "list",
                "init",
                "init-simple",
                "process",
                "finish",
                "finish-told",
                "display",
                "status",
                "close",
            ]
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
        elif kind == "finish-told":
            body = self._finish_told(ctx)
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
    @rule(
        i=st.integers(0, 2),
        ctx=st.sampled_from(CONTEXTS),
        device=st.sampled_from([0, 1]),
        amount=st.integers(1, 99_999),
    )
    def sale(self, i: int, ctx: str | None, device: int, amount: int) -> None:
        """A whole sale as Pagar.me's example page runs it: initialize and process at
        once, then finish with the merchant's answer as soon as process answers."""
        c = self._live()[i % len(self._live())]
        self._refill()
        init = {"simple_initialize": True, "device_id": self.lab.readers[device].device.id}
        self.amounts[c.index] = amount
        self.auto_finish.add((c.index, ctx))
        for body in (
            {"request_type": 2, "context_id": ctx, "initialize": init},
            {"request_type": 4, "context_id": ctx, "process": {"amount": amount}},
        ):
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
            ).filter(lambda spec: layer == "serial" or spec.primitive != "split")
        )
        # (a WebSocket delivers whole messages: splitting one is a stream fault, not ws)
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
        return self.pans

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
