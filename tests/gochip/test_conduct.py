"""The grades the agent gives a POS under test (client-under-test role)."""

from __future__ import annotations

from typing import Any

from protocol_servers.gochip.agent import Agent, AgentConfig
from protocol_servers.gochip.client import connect_local
from simulator.world import World


def _grades(script: Any, answers: dict[str, Any] | None = None,
            cards: tuple[str, ...] = ("visa-chip-pin",)) -> dict[str, Any]:
    world = World(seed=2)
    agent = Agent(world, AgentConfig(cards=cards))
    c = connect_local(agent)
    c.answers.update(answers or {})
    world.run(until=world.process(script(c, world)))
    return agent.sessions[0].conduct.grades()


def test_a_careful_pos_passes() -> None:
    def script(c: Any, world: Any) -> Any:
        yield from c.setup()
        yield from c.sale("45.67")  # comm error
        yield from c.request("REQ_GET_TRANSACTIONS", {}, "RES_ON_TRANSACTION_LIST_RESPONSE")
        yield from c.sale("5.00")
        yield world.timeout(30)

    g = _grades(script, cards=("mc-chip-signature",))
    assert g["gochip/B.4/sequence"]["verdict"] == "pass"
    assert g["gochip/B.4/prompts"]["verdict"] == "pass"
    assert g["gochip/B.6/comm-error"]["verdict"] == "pass"
    assert g["gochip/B.5/late-cancel"]["verdict"] == "not seen"


def test_a_careless_pos_fails() -> None:
    def script(c: Any, world: Any) -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10)
        c.send("REQ_PROCESS_SALE", {"amount": "5.00"})  # before anything
        yield world.timeout(1)
        c.mark_seen()
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        yield from c.request("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "1", "secret": "s"},
                             "RES_ON_SETTINGS_RETRIEVED")
        yield from c.request("REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                                 "inputMethod": "INSERT"},
                             "RES_ON_DEVICE_CONNECTED")
        yield from c.sale("45.67")  # comm error, then sells again blindly
        c.send("REQ_PROCESS_SALE", {"amount": "6.00"})
        while True:
            m = yield from c.wait_for("RES_ON_MESSAGE", 120)
            if m is None or m["data"]["message"] == "PROCESSING":
                break
        c.send("REQ_CANCEL_TRANSACTION", {})  # too late: NOT_ALLOWED
        c.send("REQ_PROCESS_SALE", {"amount": "7.00"})  # and a sale on top
        yield world.timeout(120)

    g = _grades(script, answers={"RES_ON_SIGNATURE_REQUIRED": None},
                cards=("mc-chip-signature",))
    assert g["gochip/B.4/sequence"]["verdict"] == "fail"
    assert g["gochip/B.6/comm-error"]["verdict"] == "fail"
    assert g["gochip/B.5/late-cancel"]["verdict"] == "fail"
    assert g["gochip/B.4/prompts"]["verdict"] == "fail"


def test_ended_connections_are_not_kept_forever() -> None:
    """A long-running agent forgets closed connections but the last few (memory stays
    flat under a stream of POS connections); the live ones are all there."""
    from protocol_servers.gochip.agent import ENDED_KEPT

    world = World(seed=3)
    agent = Agent(world, AgentConfig())
    live = connect_local(agent, "stays")
    for i in range(ENDED_KEPT + 30):
        connect_local(agent, f"pos{i}").close()
    world.run(until=world.now + 5)
    assert len(agent.sessions) == 1 and agent.sessions[0].alive
    assert len(agent.ended) == ENDED_KEPT
    assert len(agent.state()["sessions"]) == ENDED_KEPT
    live.close()
