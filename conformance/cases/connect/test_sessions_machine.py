"""paymentsense-connect.md §7: any interleaving of EPoS sockets, transactions, cancels,
disconnects and faults on the WebSocket and the pinpad line keeps the books.

After every step the acquirer's ledger equals what the EPoS was told (an EPoS that lost
its socket reconnects and asks ``duplicate``, as §12.4 advises), no terminal is left
busy, and no card number appears in clear.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conformance import case
from conformance.invariants import PanWatch
from conformance.options import get_options
from conformance.strategies import run_machine
from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.server import ConnectServer, ServerConfig
from simulator.faults import Corrupt, Disconnect, Drop
from simulator.world import World

from .conftest import GBP, SIGN
from .steps import KNOWN_PANS, no_late_notifications

AMOUNTS = st.sampled_from([500, 1234, 5100, 4567, 9999])
LIMIT = 400.0  # beyond the 200 s silent-terminal timeout and the 80 s signature wait


class ConnectSessions(RuleBasedStateMachine):
    seed = 1

    def __init__(self) -> None:
        super().__init__()
        self.world = World(seed=self.seed)
        self.pans = PanWatch()  # scans each transcript entry once, not after every step
        config = ServerConfig()
        terminals = tuple(t for t in config.terminals if t.tid in (GBP, SIGN))
        self.server = ConnectServer(self.world, replace(config, terminals=terminals))
        self.clients: list[ConnectClient] = []
        self.told: list[dict[str, Any]] = []
        self.sockets = 0

    # -- helpers ---------------------------------------------------------------------
    def _client(self, signature: str = "accept") -> ConnectClient:
        self.sockets += 1
        end, refusal = self.server.connect_local(self.server.url(), f"epos{self.sockets}")
        assert refusal is None
        c = ConnectClient(self.world, end, signature=signature)
        self.clients.append(c)
        return c

    def _run(self, gen: Any) -> Any:
        proc = self.world.process(gen)
        self.world.run(until=proc)
        return proc.value

    def _idle(self) -> None:
        """Let every terminal finish what it started."""
        def wait():  # type: ignore[no-untyped-def]
            waited = 0.0
            while any(t.busy_with is not None for t in self.server.terminals.values()):
                yield self.world.timeout(5.0)
                waited += 5.0
                assert waited < 2 * LIMIT, "a terminal stayed busy"
        self._run(wait())

    def _recover(self, tid: str) -> None:
        """A new socket asks the terminal's last transaction and remembers it."""
        c = self._client()
        rsp = self._run(c.call("duplicate", {"tid": tid}, limit=30.0))
        if rsp is not None and rsp.error is None:
            c.remember(rsp.result)

    # -- rules -------------------------------------------------------------------------
    @rule(tid=st.sampled_from([GBP, SIGN]), amount=AMOUNTS,
          signature=st.sampled_from(["accept", "decline", "ignore"]))
    def whole_sale(self, tid: str, amount: int, signature: str) -> None:
        c = self._client(signature)
        rsp = self._run(c.transaction("sale", tid, amount))
        assert rsp is not None
        if rsp.error is not None:
            assert rsp.error.code == -32071  # only a busy terminal may refuse
        c.close()

    @rule(amount=AMOUNTS, kind=st.sampled_from(["sale", "refund"]))
    def keyed(self, amount: int, kind: str) -> None:
        """cardholderNotPresent: the card typed on the PDQ, booked without a chip."""
        c = self._client()
        rsp = self._run(c.transaction(kind, GBP, amount, cardholderNotPresent=True))
        assert rsp is not None
        if rsp.error is not None:
            assert rsp.error.code == -32071
        c.close()

    @rule(amount=AMOUNTS)
    def refund(self, amount: int) -> None:
        c = self._client()
        self._run(c.transaction("refund", GBP, amount))
        c.close()

    @rule(after=st.floats(0.1, 12.0))
    def cancel_sale(self, after: float) -> None:
        c = self._client()

        def script():  # type: ignore[no-untyped-def]
            rid = c.request("sale", {"tid": GBP, "currency": "GBP", "amount": 777})
            yield self.world.timeout(after)
            yield from c.call("cancelTransaction", {"tid": GBP}, limit=30.0)
            rsp = yield from c.wait(rid, LIMIT)
            if rsp is not None and rsp.error is None:
                c.remember(rsp.result)
        self._run(script())
        c.close()

    @rule(after=st.floats(0.1, 15.0), tid=st.sampled_from([GBP, SIGN]))
    def epos_goes_away(self, after: float, tid: str) -> None:
        c = self._client()

        def script():  # type: ignore[no-untyped-def]
            c.request("sale", {"tid": tid, "currency": "GBP", "amount": 1500})
            yield self.world.timeout(after)
            c.close()
        self._run(script())
        self._idle()
        self._recover(tid)

    @rule(on=st.integers(0, 6))
    def websocket_fault(self, on: int) -> None:
        """A message from the EPoS is dropped or garbled, or the socket breaks."""
        name = f"epos{self.sockets + 1}"
        fault: Any = [Drop, Corrupt, Disconnect][on % 3]
        self.world.faults.add(fault(port=name, direction="tx", on=(on % 2,)))
        c = self._client()

        def script():  # type: ignore[no-untyped-def]
            rsp = yield from c.transaction("sale", GBP, 2100)
            return rsp
        proc = self.world.process(script())
        self.world.run(until=self.world.any_of([proc, self.world.timeout(LIMIT)]))
        c.close()
        self._idle()
        self._recover(GBP)

    @rule(bits=st.integers(1, 3), on=st.integers(0, 40))
    def pinpad_line_noise(self, bits: int, on: int) -> None:
        """Line noise on the serial line between the terminal and its pinpad."""
        self.world.faults.add(Corrupt(port=f"{GBP}.pinpad", direction="tx", on=(on,),
                                      bits=bits, start=self.world.now,
                                      stop=self.world.now + 60.0))
        c = self._client()
        self._run(c.transaction("sale", GBP, 3300))
        c.close()
        self._idle()

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def books_agree(self) -> None:
        told = list({v["key"]: v for c in self.clients for v in c.pos_view}.values())
        busy = [t.tid for t in self.server.terminals.values() if t.busy_with is not None]
        if busy:
            return  # checked once they finish (every rule waits for that)
        problems = self.server.acquirer.ledger.check(told)
        assert not problems, problems
        for c in self.clients:
            no_late_notifications(c)

    @invariant()
    def no_pan(self) -> None:
        self.pans.check(self.world.transcript, known_pans=KNOWN_PANS)


@case("connect/7/4", title="any interleaving of sockets, transactions, cancels, "
      "disconnects and line faults keeps the acquirer's books equal to what the EPoS "
      "was told", section="7",
      failure="some sequence loses, doubles or hides a payment, or leaks a PAN")
def test_session_machine(request: pytest.FixtureRequest, connect: Any) -> None:
    if not connect.reference or connect.world.mode != "virtual":
        pytest.skip("the state machine runs the reference server in virtual mode")
    run_machine(ConnectSessions, get_options(request.config), stateful_step_count=6)
