"""RES_ON_TRANSACTION_COMM_ERROR and the reversal it implies (§B.6).

The host may book a sale and its answer be lost on the way back. The agent then waits
out the connection timeout, reverses whatever the host booked under the sale's key,
and tells the POS; nothing stays booked and the POS is not told of an approval.
"""

from __future__ import annotations

from typing import Any

from protocol_servers.gochip.agent import Agent, AgentConfig
from protocol_servers.gochip.client import connect_local, told
from protocol_servers.gochip.settings import Gateway
from simulator.world import World
from virtual_devices.acquirer.host import AcquirerHost

LOST = 3333  # minor units whose answer the network loses after the host booked it


class LossyNetwork(AcquirerHost):
    """The shared acquirer behind a network that drops the answers for one amount."""

    def authorise(self, request: Any, kind: str = "sale", key: str | None = None) -> Any:
        answer = super().authorise(request, kind, key)
        return None if request.amount == LOST else answer


def _run(amount: str) -> tuple[Any, Agent, Any]:
    world = World(seed=4)
    acquirer = LossyNetwork(Gateway.load("first-data").acquirer().rules)
    agent = Agent(world, AgentConfig(), acquirer=acquirer)
    c = connect_local(agent)

    def script() -> Any:
        yield from c.setup()
        final = yield from c.sale(amount)
        yield world.timeout(20)
        return final

    final = world.run(until=world.process(script()))
    return final, agent, c


def test_lost_answer_is_reversed() -> None:
    final, agent, c = _run("33.33")
    assert final["type"] == "RES_ON_TRANSACTION_COMM_ERROR"
    assert final["data"]["error"] == "ERROR_TIMEOUT"
    assert "reversal was sent" in final["data"]["message"]
    entries = agent.acquirer.ledger.entries
    assert any(e.kind == "sale" and e.approved and e.reversed for e in entries)
    assert agent.bookings() == [] and told([c]) == []
    assert not agent.ledger_problems()


def test_no_answer_and_nothing_booked() -> None:
    final, agent, _ = _run("45.67")
    assert final["type"] == "RES_ON_TRANSACTION_COMM_ERROR"
    assert "nothing was booked" in final["data"]["message"]
    assert not [e for e in agent.acquirer.ledger.entries if e.kind == "reversal"]
