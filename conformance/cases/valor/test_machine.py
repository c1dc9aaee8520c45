"""§A.4 and §A.9 as a whole: a Hypothesis state machine of requests, cancels, drops and
recoveries on every framing, against the reference terminal in virtual mode.

POS connections (WebSocket, bare, newline, STX/ETX, USB) start sales, pre-auths, refunds,
voids, tip adjusts and settlements; a cancel socket clears sales; connections are cut;
faults of §A.9 are armed; junk is sent. Each POS follows the note: a lost socket after the
STAN frame or a STATE -2 final is recovered by TRAN_MODE 90, never by a retry. After
every step, once the world has settled: the acquirer's books equal what the POS was
finally told, no sale was charged twice for one request, and no PAN is in clear.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from conformance import case
from conformance.invariants import no_full_pan
from conformance.options import get_options
from conformance.strategies import ProtocolMachine, run_machine
from protocol_servers.valor.pos import Result, ValorPos
from protocol_servers.valor.terminal import ValorTerminal

FRAMINGS = ["ws", "bare", "newline", "stx", "usb"]
AMOUNTS = [1250, 2000, 2300, 5100, 4567, 9902, 100]
FAULTS = ["drop_after_stan", "final_indeterminate", "no_ack", "foreign_final", "hold_card",
          "slow_final"]
# long enough for any exchange to end: sale timeout, recovery polls, slow final
SETTLE = 400.0


class ValorMachine(ProtocolMachine):
    def setup_world(self) -> None:
        self.terminal = ValorTerminal(self.world)
        self.book: Any = {}
        self.tran_nos: dict[str, str] = {}
        self.poses: list[tuple[ValorPos, str]] = []
        self.busy: set[int] = set()
        self.n = 0

    # -- helpers ---------------------------------------------------------------------------
    def _new_pos(self, framing: str) -> ValorPos:
        transport = {"ws": "ws", "usb": "usb"}.get(framing, "tcp")
        end = self.terminal.connect_local(transport)
        pos = ValorPos(self.world, end, framing, name=f"pos{len(self.poses)}",  # type: ignore[arg-type]
                       book=self.book, by_tran_no=self.tran_nos)
        self.poses.append((pos, transport))
        return pos

    def _reconnect(self, transport: str) -> Any:
        return lambda: self.terminal.connect_local(transport)

    def _start(self, i: int, request: dict[str, str]) -> None:
        pos, transport = self.poses[i]
        self.n += 1
        request = {**request, "REQ_TXN_ID": f"M{self.n}"}
        self.busy.add(i)

        def flow() -> Generator[Any, Any, None]:
            try:
                res: Result = yield from pos.transact(request, final_timeout=180.0)
                needs = res.outcome == "lost" or (res.outcome == "final" and res.state == "-2")
                if needs and res.stan:
                    yield from pos.recover(self._reconnect(transport), res.stan, request)
            finally:
                self.busy.discard(i)

        self.world.process(flow())

    def _idle(self) -> list[int]:
        return [i for i, (p, _) in enumerate(self.poses) if i not in self.busy]

    # -- rules -----------------------------------------------------------------------------
    @precondition(lambda self: len(self.poses) < 4)
    @rule(framing=st.sampled_from(FRAMINGS))
    def connect(self, framing: str) -> None:
        self._new_pos(framing)

    @precondition(lambda self: bool(self._idle()))
    @rule(data=st.data(), amount=st.sampled_from(AMOUNTS), mode=st.sampled_from(["1", "2"]),
          tip=st.booleans())
    def sale(self, data: st.DataObject, amount: int, mode: str, tip: bool) -> None:
        i = data.draw(st.sampled_from(self._idle()))
        self._start(i, {"TRAN_MODE": mode, "TRAN_CODE": "1", "AMOUNT": str(amount),
                        "TIP_ENTRY": "1" if tip else "0"})

    @precondition(lambda self: bool(self._idle()))
    @rule(data=st.data(), code=st.sampled_from(["3", "5"]), amount=st.sampled_from(AMOUNTS))
    def preauth_or_refund(self, data: st.DataObject, code: str, amount: int) -> None:
        i = data.draw(st.sampled_from(self._idle()))
        self._start(i, {"TRAN_MODE": "1", "TRAN_CODE": code, "AMOUNT": str(amount)})

    @precondition(lambda self: bool(self._idle()) and bool(self.tran_nos))
    @rule(data=st.data(), code=st.sampled_from(["2", "20", "4"]))
    def follow_up(self, data: st.DataObject, code: str) -> None:
        i = data.draw(st.sampled_from(self._idle()))
        tran_no = data.draw(st.sampled_from(sorted(self.tran_nos)))
        extra = {"2": {"AMOUNT": "0"}, "20": {"TIP_AMOUNT": "150"}, "4": {"AMOUNT": "1000"}}
        self._start(i, {"TRAN_MODE": "0", "TRAN_CODE": code, "TRAN_NO": tran_no,
                        **extra[code]})

    @precondition(lambda self: bool(self._idle()))
    @rule(data=st.data())
    def settle_batch(self, data: st.DataObject) -> None:
        self._start(data.draw(st.sampled_from(self._idle())), {"TRAN_MODE": "0",
                                                               "TRAN_CODE": "9"})

    @rule(fault=st.sampled_from(FAULTS))
    def arm(self, fault: str) -> None:
        self.terminal.set_knob(fault)

    @rule()
    def cancel(self) -> None:
        canceller = ValorPos(self.world, self.terminal.connect_local("tcp", cancel_port=True),
                             "bare", name="canceller")
        canceller.send({"TRAN_MODE": "99"})

    @precondition(lambda self: bool(self.poses))
    @rule(data=st.data())
    def cut(self, data: st.DataObject) -> None:
        pos, _ = self.poses[data.draw(st.sampled_from(range(len(self.poses))))]
        pos.close()

    @precondition(lambda self: bool(self.poses))
    @rule(data=st.data(), junk=st.sampled_from([b"garbage", b"{\"TRAN_MODE\":\"42\"}", b"[]"]))
    def send_junk(self, data: st.DataObject, junk: bytes) -> None:
        pos, _ = self.poses[data.draw(st.sampled_from(range(len(self.poses))))]
        if not pos.closed:
            pos.send_raw(junk)

    @rule(seconds=st.sampled_from([0.5, 2.0, 10.0]))
    def wait(self, seconds: float) -> None:
        self.world.run(until=self.world.now + seconds)

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def house_rules(self) -> None:
        """Settled: the books equal what the POS was told; one charge per request."""
        self.world.run(until=self.world.now + SETTLE)
        assert not self.busy, f"POS flows still running after {SETTLE} s"
        problems = self.terminal.acquirer.ledger.check(list(self.book.values()))
        assert not problems, problems
        keys = [e.key for e in self.terminal.acquirer.ledger.entries
                if e.kind in ("sale", "preauth")]
        assert len(keys) == len(set(keys))
        per_request: dict[str, int] = {}
        for rec in self.terminal.records.values():
            if rec.acquirer_ref and rec.kind in ("sale", "preauth") and rec.req_txn_id:
                per_request[rec.req_txn_id] = per_request.get(rec.req_txn_id, 0) + 1
        assert all(n == 1 for n in per_request.values()), per_request
        no_full_pan(self.world.transcript)


@pytest.mark.parametrize("framing", ["bare"])
@case("valor/A.4/9", title="any sequence of requests, cancels, drops and recoveries on every "
      "framing keeps the books equal to what the POS was told", section="A.4",
      failure="some sequence loses or doubles a payment, or a recovery by STAN charges again")
def test_state_machine(request: pytest.FixtureRequest, valor: Any) -> None:
    if not valor.reference or valor.world.mode != "virtual":
        pytest.skip("the state machine runs the reference terminal in virtual mode")
    run_machine(ValorMachine, get_options(request.config))
