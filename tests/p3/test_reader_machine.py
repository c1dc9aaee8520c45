"""P3 sessions on an ABECS card reader as a Hypothesis state machine.

POS clients on either transport start chip charges (captured or not), standalone refunds
and tip adjusts, abort, wait and disconnect in any order. After every step: one final
response per execute, the shared acquirer's books net per transaction to what the POS
was told (so a refund interrupted by a lost POS is neither lost nor doubled), the
acquirer ledger is consistent and no PAN appears in clear.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule, run_state_machine_as_test

from conformance.strategies import ProtocolMachine
from protocol_servers.p3.client import (
    P3Client,
    connect_local,
    requests_and_finals,
    told,
)
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.server import PayServer

warnings.filterwarnings("ignore", message=".*TripleDES.*")
pytestmark = pytest.mark.filterwarnings(
    "ignore::cryptography.utils.CryptographyDeprecationWarning")
RESOURCE = "devices/counter"
PAN = "4761739001010010"
DONE_WITHIN = 200.0


class ReaderSessions(ProtocolMachine):
    settle_for = 5.0

    def setup_world(self) -> None:
        cfg = ServerConfig(devices=(DeviceConfig("counter", "Counter", "MIURA", "USB",
                                                 cards=("visa-chip-pin",)),))
        self.server = PayServer(self.world, cfg)
        self.clients: list[P3Client] = []
        self.live: list[P3Client] = []
        self.sent_at: dict[str, float] = {}

    def _send(self, i: int, **fields: object) -> None:
        c = self.live[i % len(self.live)]
        tag = c.execute(RESOURCE, **fields)  # type: ignore[arg-type]
        self.sent_at[tag] = self.world.now

    @precondition(lambda self: len(self.live) < 2)
    @rule(transport=st.sampled_from(["ws", "tcp"]))
    def connect(self, transport: str) -> None:
        c = connect_local(self.server, transport, f"pos{len(self.clients)}")
        self.clients.append(c)
        self.live.append(c)
        c.request("LOGIN_MERCHANT_REQUEST", {"providerMode": "MOCK", "merchantIdentifier": "m",
                                             "merchantSecret": "s"})

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 1), amount=st.sampled_from(["12.00", "7.50", "212.00"]),
          capture=st.booleans())
    def charge(self, i: int, amount: str, capture: bool) -> None:
        self._send(i, amount=amount, autoCapture=capture)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 1), amount=st.sampled_from(["3.00", "40.00"]))
    def standalone_refund(self, i: int, amount: str) -> None:
        self._send(i, type_="REFUND", amount=amount)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 1), pick=st.integers(0, 5), tip=st.sampled_from(["0.50", "2.00"]))
    def tip_adjust(self, i: int, pick: int, tip: str) -> None:
        charges = sorted(k for k, v in told(self.clients).items() if v > 0)
        if charges:
            self._send(i, type_="TIP_ADJUST", amount=tip,
                       referencedTransactionIdentifier=charges[pick % len(charges)])

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 1))
    def abort(self, i: int) -> None:
        self.live[i % len(self.live)].request("ABORT_TRANSACTION_REQUEST", None, RESOURCE)

    @precondition(lambda self: self.live)
    @rule(i=st.integers(0, 1), after=st.sampled_from([0.0, 0.5, 1.5, 3.0]))
    def disconnect(self, i: int, after: float) -> None:
        """Lose a POS now or a moment later (mid-card, mid-online, mid-removal)."""
        c = self.live.pop(i % len(self.live))
        if after:
            self.world.run(until=self.world.now + after)
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
        running = {d.current.tx.identifier for d in self.server.devices.values()
                   if d.current is not None}
        return [(t, a) for t, a in self.server.bookings() if t not in running]

    def known_pans(self) -> Iterable[str]:
        return [PAN]

    @invariant()
    def acquirer_ledger_is_consistent(self) -> None:
        assert not self.server.ledger_problems(), self.server.ledger_problems()


def test_reader_sessions_keep_the_books() -> None:
    run_state_machine_as_test(
        ReaderSessions,
        settings=settings(max_examples=12, stateful_step_count=12, deadline=None,
                          suppress_health_check=list(HealthCheck), database=None),
    )
