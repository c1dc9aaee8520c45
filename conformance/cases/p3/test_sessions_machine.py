"""Decision §15 as a whole: a Hypothesis state machine over P3 sessions.

Clients connect over either transport, start charges and refunds, answer actions right
or wrong, abort, send junk, wait and disconnect, in any order. After every step the
house invariants of the engine hold: one final response per execute, the ledger nets to
what the POS was told, no PAN in clear; and the server's own ledger balances.
Reference server in virtual mode only (the machine builds its own worlds).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from conformance import case
from conformance.options import get_options
from conformance.strategies import ProtocolMachine, run_machine
from protocol_servers.p3.client import (
    P3Client,
    connect_local,
    requests_and_finals,
    told,
)
from protocol_servers.p3.server import PayServer

from .steps import MOCK_PAN

RESOURCE = "devices/mockReader"
AMOUNTS = ["5.00", "10.00", "22.00", "40.00", "100.00", "200.00", "21.00", "5.10", "5.20",
           "5.30", "1500.00"]
# the longest a transaction may take: action timeout plus the card and host steps
DONE_WITHIN = 200.0
RIGHT: dict[str, tuple[str, dict[str, Any]]] = {
    "CUSTOMER_SIGNATURE": ("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}),
    "CUSTOMER_IDENTIFICATION": ("SUBMIT_IDENTIFICATION_REQUEST", {"verified": True}),
    "CREDIT_DEBIT_SELECTION": ("SUBMIT_CREDIT_DEBIT_SELECTION_REQUEST", {"selection": "CREDIT"}),
}


class P3Sessions(ProtocolMachine):
    settle_for = 5.0

    def setup_world(self) -> None:
        self.server = PayServer(self.world)
        self.clients: list[P3Client] = []
        self.live: list[P3Client] = []
        self.sent_at: dict[str, float] = {}

    # -- rules ------------------------------------------------------------------------
    @precondition(lambda self: len(self.live) < 3)
    @rule(transport=st.sampled_from(["ws", "tcp"]))
    def connect(self, transport: str) -> None:
        c = connect_local(self.server, transport, f"pos{len(self.clients)}")
        self.clients.append(c)
        self.live.append(c)
        c.request("LOGIN_MERCHANT_REQUEST", {"providerMode": "MOCK", "merchantIdentifier": "m",
                                             "merchantSecret": "s"})

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2), amount=st.sampled_from(AMOUNTS),
          kind=st.sampled_from(["CHARGE", "CHARGE", "REFUND"]), capture=st.booleans())
    def execute(self, i: int, amount: str, kind: str, capture: bool) -> None:
        c = self.live[i % len(self.live)]
        extra: dict[str, Any] = {} if kind == "REFUND" else {"autoCapture": capture}
        tag = c.execute(RESOURCE, type_=kind, amount=amount, **extra)
        self.sent_at[tag] = self.world.now

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2), right=st.booleans())
    def answer(self, i: int, right: bool) -> None:
        c = self.live[i % len(self.live)]
        actions = [m for m in c.received if m["type"] == "EXECUTE_TRANSACTION_ACTION"]
        if not actions:
            return
        body = actions[-1]["executeTransactionAction"]
        kind = body["action"]
        rtype: str
        payload: dict[str, Any]
        if kind == "APPLICATION_SELECTION":
            rtype, payload = ("SUBMIT_APPLICATION_SELECTION_REQUEST",
                              {"applicationIdentifier": body["applications"][-1]
                               ["applicationIdentifier"]})
        else:
            rtype, payload = RIGHT[kind]
        if not right:
            rtype, payload = ("SUBMIT_IDENTIFICATION_REQUEST", {"verified": True}) \
                if kind != "CUSTOMER_IDENTIFICATION" else RIGHT["CUSTOMER_SIGNATURE"]
        c.request(rtype, payload, RESOURCE)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2))
    def abort(self, i: int) -> None:
        self.live[i % len(self.live)].request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2), part=st.sampled_from(["1.00", "5.00"]))
    def refund(self, i: int, part: str) -> None:
        booked = told(self.clients)
        charges = sorted(k for k, v in booked.items() if v > 0)
        if not charges:
            return
        c = self.live[i % len(self.live)]
        tag = c.execute(RESOURCE, type_="REFUND", amount=part,
                        referencedTransactionIdentifier=charges[0])
        self.sent_at[tag] = self.world.now

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2), junk=st.sampled_from(['{"type":"X","tag":"j"}', "not json",
                                                      '{"tag":"j2","type":"LOGIN_MERCHANT_REQUEST"}']))
    def junk(self, i: int, junk: str) -> None:
        c = self.live[i % len(self.live)]
        if c.end.__class__.__name__ == "ByteEnd":
            from protocol_servers.p3 import tcpframes
            c.send_raw(tcpframes.encode(junk.encode()))
        else:
            c.send_raw(junk)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 2))
    def disconnect(self, i: int) -> None:
        c = self.live.pop(i % len(self.live))
        c.end.close()

    @rule(seconds=st.sampled_from([1.0, 30.0, DONE_WITHIN]))
    def wait(self, seconds: float) -> None:
        self.world.run(until=self.world.now + seconds)

    # -- what the invariants see ---------------------------------------------------------
    def settle(self) -> None:
        super().settle()
        asked, answered = requests_and_finals(
            self.clients, self.live, self.sent_at, self.world.now, DONE_WITHIN
        )
        self.book.asked = list(asked)
        self.book.answered = list(answered)
        self.book.told = dict(told(self.clients))

    def ledger(self) -> Iterable[tuple[Hashable, int]]:
        """Bookings of settled transactions: one still running (say, approved and waiting
        for its signature) has moved money the POS is only told about at its end."""
        running = {d.current.tx.identifier for d in self.server.devices.values()
                   if d.current is not None}
        return [(t, a) for t, a in self.server.gateway.ledger.bookings() if t not in running]

    def known_pans(self) -> Iterable[str]:
        return [MOCK_PAN]

    @invariant()
    def server_ledger_balances(self) -> None:
        assert self.server.gateway.ledger.balanced, self.server.gateway.ledger.problems()

    @invariant()
    def amounts_are_exact(self) -> None:
        for c in self.clients:
            for m in c.received:
                t = (m.get("executeTransactionResponse") or {}).get("transaction") or {}
                assert t.get("amount") is None or isinstance(t["amount"], (Decimal, int))


@pytest.mark.parametrize("transport", ["ws"])
@case("p3/15/1", title="any interleaving of sessions keeps the house invariants",
      section="15", failure="some sequence of P3 requests breaks one-answer-per-request, the "
      "ledger, or leaks a PAN")
def test_session_machine(request: pytest.FixtureRequest, p3: Any) -> None:
    if not p3.reference or p3.world.mode != "virtual":
        pytest.skip("the state machine runs the reference server in virtual mode")
    run_machine(P3Sessions, get_options(request.config))
