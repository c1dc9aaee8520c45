"""The GoChip target of the conformance cases (:class:`conformance.targets.Target`).

``virtual`` (default): the reference agent inside the case's world, the suite playing
the POS over in-memory message links carrying exactly the WebSocket text frames.
``served`` (``--mode realtime``): the reference on a loopback WebSocket (port 0) with
its readers on ptys. ``foreign`` (``--target gochip=ws://HOST:PORT/middleware``): the
suite plays the POS against that agent; cases that read the reference's ledger skip,
the others grade what the wire shows. Cases that choose the card skip there too, unless
the agent is a cardloop-served reference named with its control API (``--control URL``,
as ``--serve gochip`` or ``cardloop serve gochip`` prints it): the card then goes to its
reader through the control API's ``next-card`` action and those cases run for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conformance.options import control_client, get_options, target_url
from conformance.targets import Target
from protocol_servers.gochip.agent import Agent, AgentConfig, switches_of
from protocol_servers.gochip.client import GoChipClient, connect_local
from simulator.world import World


class GoChipTarget(Target):
    """One agent under test and the POS clients a case opens to it."""

    def __init__(self, world: World, url: str | None, config: AgentConfig | None = None,
                 control: Any = None, switches: frozenset[str] = frozenset()) -> None:
        super().__init__(world, Target.kind_for(world, url=url))
        self.url = url
        # the control API of a served reference (foreign kind only): chooses its cards
        self.control = control if self.kind == "foreign" else None
        self.agent: Agent | None = None
        self.clients: list[GoChipClient] = []
        self._ws: Any = None
        # the customer inserts: the cases follow the note's chip and PIN flows
        self.config = config or AgentConfig(readers=("reader0", "reader1"),
                                            customer={"presentation": "insert"},
                                            switches=switches)
        if self.reference:
            # a realtime world gets no in-memory readers from the Agent: ptys below
            self.agent = Agent(world, self.config)
        if self.kind == "served":
            from protocol_servers.gochip import live

            agent = self.agent
            assert agent is not None

            async def start() -> Any:
                live.attach_readers(agent)
                return await live.start(agent, "127.0.0.1", 0)

            self._ws = self.wait(start())
            self.url = self._ws.url

    def present(self, card: str, reader: str = "reader0", entry: str = "insert",
                **customer: Any) -> None:
        """The customer holds ``card`` next and presents it by ``entry`` (insert, tap or
        swipe): on the reference directly, on a served reference through its control
        API, and against any other agent the case skips."""
        if self.agent is not None:
            self.agent.readers[reader].present(card, presentation=entry, **customer)
            return
        if self.control is None:
            pytest.skip("the case chooses the card: needs the reference, or a served "
                        "reference's control API (--control URL)")
        index = int(reader.removeprefix("reader") or 0)
        # the customer inserts, as on the reference: the cases follow the chip and PIN flows
        self.control.scenario("next-card", card=card, reader=index, clear=True, entry=entry)
        if customer:
            self.control.scenario("cardholder", reader=index, **customer)

    def gateway(self, up: bool) -> None:
        """Take the gateway off the network (or back): on the reference directly, on a
        served reference through its control API's ``gateway`` action, else skip."""
        if self.agent is not None:
            self.agent.gateway_up = up
            return
        if self.control is None:
            pytest.skip("the case takes the gateway off the network: needs the reference, "
                        "or a served reference's control API (--control URL)")
        self.control.scenario("gateway", up=up)

    def client(self, name: str = "pos") -> GoChipClient:
        if self.kind == "virtual":
            assert self.agent is not None
            c = connect_local(self.agent, name)
        else:
            from protocol_servers.gochip import live

            assert self.url is not None
            c = self.wait(live.connect(self.world, self.url, name))
        self.clients.append(c)
        return c

    def teardown(self) -> None:
        if self.loop is None:
            return
        for c in self.clients:
            c.end.close()
        if self.clients:
            self.settle(0.5)  # let the close handshakes go out before the loop ends
        if self._ws is not None:
            self.wait(self._ws.close())
        if self.agent is not None:
            self.agent.close()


@pytest.fixture
def gochip(request: pytest.FixtureRequest, world: World) -> Iterator[GoChipTarget]:
    # ``--profile documented+no-refund-limit`` (or ``+remove-card-first``) switches a rule
    # off in the reference agent: the suite's own tests show the named cases then fail
    profile = get_options(request.config).profile
    switches = switches_of(profile) if profile and profile.startswith("documented") \
        else frozenset()
    target = GoChipTarget(world, target_url(request.config, "gochip"),
                          control=control_client(request.config), switches=switches)
    yield target
    target.close()
