"""Swiped cards go through the terminal application's stripe path, and the terminal's
currency (5F2A, the gateway's request) follows the agent's settings."""

from __future__ import annotations

from typing import Any

from protocol_servers.gochip.agent import Agent, AgentConfig
from protocol_servers.gochip.client import connect_local
from protocol_servers.gochip.settings import Settings
from simulator.world import World


def _sell(amount: str, card: str = "visa-chip-pin", settings: Settings | None = None,
          **customer: Any) -> tuple[Agent, Any, dict[str, Any]]:
    world = World(seed=3)
    agent = Agent(world, AgentConfig(cards=(card,)), settings=settings)
    agent.readers["reader0"].present(card, **customer)
    c = connect_local(agent)

    def script() -> Any:
        yield from c.setup()
        final = yield from c.sale(amount)
        yield world.timeout(10)
        return final

    final = world.run(until=world.process(script()))
    return agent, c, final


def _booked(agent: Agent) -> list[Any]:
    return [e for e in agent.acquirer.ledger.entries
            if e.kind == "sale" and e.approved and not e.reversed]


def test_a_swiped_card_is_sold_on_its_stripe_with_a_signature() -> None:
    agent, c, final = _sell("20.00", presentation="swipe")
    assert final["type"] == "RES_ON_SALE_RESPONSE", final
    body = final["data"]["saleResponse"]
    assert body["code"] == "A", body
    assert "RES_ON_SIGNATURE_REQUIRED" in c.types()  # no PIN on a 201 stripe
    [entry] = _booked(agent)
    assert entry.amount == 2000
    assert body["cardNumber"].startswith("476173") and "9001010010" not in body["cardNumber"]


def test_a_swiped_sale_without_its_signature_is_taken_back() -> None:
    world = World(seed=3)
    agent = Agent(world, AgentConfig(cards=("visa-chip-pin",)))
    agent.readers["reader0"].present("visa-chip-pin", presentation="swipe")
    c = connect_local(agent)
    c.answers["RES_ON_SIGNATURE_REQUIRED"] = None

    def script() -> Any:
        yield from c.setup()
        return (yield from c.sale("20.00"))

    final = world.run(until=world.process(script()))
    assert final["data"]["saleResponse"]["code"] == "D"
    assert not _booked(agent) and not agent.bookings()


def test_the_gateway_is_asked_in_the_settings_currency() -> None:
    agent, _, final = _sell("12.00")
    assert final["data"]["saleResponse"]["code"] == "A"
    assert final["data"]["saleResponse"]["currency"] == "USD"
    assert [e.currency for e in _booked(agent)] == [840]

    raw = {"currency": "EUR", "currency_symbol": "€"}
    agent, _, final = _sell("12.00", settings=Settings.load(raw))
    assert final["data"]["saleResponse"]["code"] == "A"
    assert [e.currency for e in _booked(agent)] == [978]
