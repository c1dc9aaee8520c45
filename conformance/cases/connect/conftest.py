"""The Connect target of the conformance cases.

By default the reference Connect server runs inside the case's world in virtual mode
with its terminals' virtual pinpads in memory, and the suite plays the EPoS over
in-memory message links. With ``--mode realtime`` the same reference listens on a real
loopback WebSocket, its pinpads on ptys. With
``--target connect=ws://HOST:PORT/pac?token=…`` the suite plays the EPoS against that
server; cases that need to choose the card, silence a terminal or read the reference's
ledger say so (informational) instead of failing. When that server is a cardloop-served
reference named with its control API (``--control URL``, as ``--serve connect`` or
``cardloop serve connect`` prints it), the cases that choose the card choose it through
the control API's ``card`` action and run for real.

``--profile documented+no-busy-rule`` or ``+notify-after-result`` switches one rule of
the reference off, which is how the suite's own tests show that it notices.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from conformance.options import control_client, get_options, target_url
from conformance.targets import Target
from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.server import ConnectServer, ServerConfig, with_switches
from simulator.world import World

Script = Callable[..., Generator[Any, Any, Any]]
GBP = "22162152"  # chip and PIN
SIGN = "22162153"  # signature card
EUR = "31162154"
WAITER_POLL = 2.0  # simulated seconds between asks for a served waiter's result


class ConnectTarget(Target):
    """One server under test and the EPoS sockets a case opens to it."""

    def __init__(self, world: World, url: str | None, config: ServerConfig,
                 control: Any = None) -> None:
        super().__init__(world, Target.kind_for(world, url=url))
        # the control API of a served reference (foreign kind only): chooses its cards
        self.control = control if self.kind == "foreign" else None
        self.server: ConnectServer | None = None
        self.clients: list[ConnectClient] = []
        self._waiters: dict[int, Any] = {}  # the reference's waiter processes by number
        self._endpoints: Any = None
        self.url = url
        if self.kind == "virtual":
            self.server = ConnectServer(world, config)
            self.url = self.server.url("ws://reference", "/pac")
        elif self.kind == "served":
            from protocol_servers.connect import live

            self._endpoints = self.wait(live.start(world, config))
            self.server = self._endpoints.server
            self.url = self._endpoints.pac_url

    def url_for(self, path: str = "/pac", version: str = "v1", drop: tuple[str, ...] = (),
                **query: str) -> str:
        assert self.url is not None
        parts = urlsplit(self.url)
        q = dict(parse_qsl(parts.query, keep_blank_values=True))
        q["api-version"] = version
        if version == "v1":
            q.setdefault("software-house-id", "CARDLOOP")
            q.setdefault("installer-id", "CARDLOOP")
        q.update(query)
        for k in drop:
            q.pop(k, None)
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(q), ""))

    def open(self, path: str = "/pac", version: str = "v1", name: str = "epos",
             **client: Any) -> ConnectClient:
        c = self.try_open(self.url_for(path, version), name, version, **client)
        assert isinstance(c, ConnectClient), f"handshake refused: {c}"
        return c

    def try_open(self, url: str, name: str = "epos", version: str = "v1",
                 **client: Any) -> ConnectClient | tuple[int, Any]:
        """A client, or the refusal ``(status, body)``."""
        if self.loop is None:
            assert self.server is not None
            end, refusal = self.server.connect_local(url, name)
            if refusal is not None:
                return refusal  # type: ignore[no-any-return]
            c = ConnectClient(self.world, end, version, **client)
        else:
            from simulator.ports.ws import HandshakeRefused, connect_ws

            try:
                end = self.wait(connect_ws(self.world, url, name=name))
            except HandshakeRefused as exc:
                return exc.status, exc.json()
            c = ConnectClient(self.world, end, version, **client)
        self.clients.append(c)
        return c

    def choose(self, tid: str, card: str, **behaviour: Any) -> None:
        """The next customer at ``tid`` holds ``card`` and acts per ``behaviour``: on the
        reference directly, on a served reference through its control API, and against
        any other server the case skips."""
        if self.server is not None:
            self.server.terminals[tid].machine.choose_card(card, **behaviour)
            return
        if self.control is None:
            pytest.skip("the case chooses the card: needs the reference, or a served "
                        "reference's control API (--control URL)")
        self.control.scenario("card", tid=tid, card=card, **behaviour)

    def start_waiter(self, tid: str, plan: Any) -> int:
        """A waiter at ``tid`` serves a table per ``plan`` (a :class:`WaiterPlan`): on the
        reference directly, on a served reference through its control API's ``waiter``
        action; against any other server the case skips. Returns the waiter's number."""
        if self.server is not None:
            proc = self.server.start_waiter(tid, plan)
            number = len(self.server.waiters)
            self._waiters[number] = proc
            return number
        if self.control is None:
            pytest.skip("the case has a waiter serve a table: needs the reference, or a "
                        "served reference's control API (--control URL)")
        from dataclasses import asdict

        answer = self.control.scenario("waiter", tid=tid, **asdict(plan))
        return int(answer["number"])

    def waiter_result(self, number: int, limit: float = 900.0) -> dict[str, Any]:
        """What waiter ``number`` did, once it has finished (``waiter_result`` of the
        control API: table, lock, amount, splits, payments, steps); the world runs
        meanwhile, so the EPoS answers the waiter's requests."""
        if self.server is not None:
            proc = self._waiters[number]

            def script() -> Generator[Any, Any, Any]:
                yield proc

            self.run(script, limit=limit)
            return dict(self.server.waiter_outcome(number).to_json())
        assert self.control is not None
        waited = 0.0
        while True:
            got = self.control.scenario("waiter_result", number=number)
            if got.get("finished") or waited >= limit:
                return dict(got)
            self.settle(WAITER_POLL)  # the world's clock, not a sleep: the EPoS answers
            waited += WAITER_POLL

    def ledger_settled(self) -> int | None:
        """What the acquirer has settled: the reference's ledger, a served reference's
        through its control API's state, else None (not visible)."""
        if self.server is not None:
            return int(self.server.acquirer.ledger.balance()["settled"])
        if self.control is not None:
            return int(self.control.state()["server"]["ledger"]["settled"])
        return None

    def teardown(self) -> None:
        for c in self.clients:
            c.end.close()
        if self._endpoints is not None:
            self.wait(self._endpoints.close())
        elif self.server is not None:
            self.server.close()


@pytest.fixture
def connect(request: pytest.FixtureRequest, world: World) -> Iterator[ConnectTarget]:
    url = target_url(request.config, "connect")
    profile = get_options(request.config).profile or "documented"
    config = with_switches(ServerConfig(), profile if profile.startswith("documented")
                           else "documented")
    target = ConnectTarget(world, url, config, control=control_client(request.config))
    yield target
    target.close()
