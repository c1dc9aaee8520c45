"""The P3 target of the conformance cases.

By default the reference PayServer runs inside the case's world in virtual mode and the
suite talks to it over in-memory links that carry exactly what each transport carries
(WebSocket messages, or the length-prefixed TCP byte stream). With ``--mode realtime``
the reference server listens on loopback sockets and the suite connects through them.
With ``--target p3=ws://HOST:PORT`` or ``--target p3=tcp://HOST:PORT`` the suite plays
the POS against that server instead; cases of the other transport are skipped, and
checks that need the reference's own ledger become informational.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.options import get_options, target_url
from conformance.targets import Target
from protocol_servers.p3.client import P3Client, connect_local
from protocol_servers.p3.config import DeviceConfig, ServerConfig
from protocol_servers.p3.gateway import Ledger
from protocol_servers.p3.live import Endpoints
from protocol_servers.p3.server import PayServer
from simulator.world import World


def reference_config() -> ServerConfig:
    """A MOCK reader (amount-digit outcomes) and an ABECS reader with a chip+PIN card."""
    return ServerConfig(devices=(
        DeviceConfig("mockReader", "Mock reader"),
        DeviceConfig("counterReader", "Counter reader", "MIURA", "USB",
                     cards=("visa-chip-pin",)),
    ))


class P3Target(Target):
    """One server under test and the POS clients a case opens to it."""

    def __init__(self, world: World, transport: str, url: str | None) -> None:
        super().__init__(world, Target.kind_for(world, url=url))
        self.transport = transport
        self.url = url
        self.server: PayServer | None = None
        self.clients: list[P3Client] = []
        self._endpoints: Endpoints | None = None
        self.resource = "devices/mockReader"
        if self.reference:
            self.server = PayServer(world, reference_config())
        if self.kind == "served":
            from protocol_servers.p3 import live

            assert self.server is not None
            self.wait(live.attach_readers(self.server))
            self._endpoints = self.wait(live.start(self.server, "127.0.0.1", 0, 0))
            self.url = (self._endpoints.ws_url if transport == "ws"
                        else self._endpoints.tcp_url)

    @property
    def ledger(self) -> Ledger | None:
        return None if self.server is None else self.server.gateway.ledger

    def client(self, name: str = "pos") -> P3Client:
        if self.loop is None:
            assert self.server is not None
            c = connect_local(self.server, self.transport, name)
        else:
            from protocol_servers.p3 import live

            assert self.url is not None
            c = self.wait(live.connect(self.world, self.url, name))
        self.clients.append(c)
        return c

    def teardown(self) -> None:
        if self.loop is None:
            return
        for c in self.clients:
            c.end.close()
        if self._endpoints is not None:
            self.wait(self._endpoints.close())
        if self.server is not None:
            self.server.close()


@pytest.fixture(params=["ws", "tcp"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ``--profile p3+no-refund-limit`` switches a rule off in the reference server: the
# suite's own tests show that the named case then fails
RULE_SWITCHES = {"no-refund-limit": "refund_limit"}


def _switch_rules(server: PayServer, profile: str | None) -> None:
    if profile is None or profile.split("+")[0] != "p3":
        return  # no profile, or one meant for another protocol's server
    for name in profile.split("+")[1:]:
        if name not in RULE_SWITCHES:
            raise pytest.UsageError(f"unknown P3 rule switch +{name}; "
                                    f"known: {sorted(RULE_SWITCHES)}")
        setattr(server, RULE_SWITCHES[name], False)


@pytest.fixture
def p3(request: pytest.FixtureRequest, world: World, transport: str) -> Iterator[P3Target]:
    url = target_url(request.config, "p3")
    if url is not None:
        from protocol_servers.p3.live import transport_of

        if transport_of(url) != transport:
            pytest.skip(f"the target speaks {transport_of(url)} only")
    target = P3Target(world, transport, url)
    if target.server is not None:
        _switch_rules(target.server, get_options(request.config).profile)
    yield target
    target.close()
