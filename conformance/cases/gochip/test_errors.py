"""semi-and-websockets.md §B.6: error frames, the host that does not answer, the gateway
simulators' test amounts, requests out of order; the agent keeps serving."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.gochip.agent import AgentConfig

from .conftest import GoChipTarget
from .steps import check_invariants, error_of, sale_of, setup_and_sell


@case("gochip/B.6/1", title="no host answer ($45.67, First Data): RES_ON_TRANSACTION_COMM_ERROR "
      "with ERROR_TIMEOUT, and nothing stays booked", failure="a host timeout is not reported "
      "as a comm error, or leaves money booked")
def test_comm_error(gochip: Any) -> None:
    c = gochip.client()
    got = gochip.run(lambda: setup_and_sell(c, "45.67"))
    assert got is not None and got["type"] == "RES_ON_TRANSACTION_COMM_ERROR", got
    assert got["responseType"] == "RESPONSE_ERROR_GENERAL"
    assert got["description"] == "onTransactionCommError"
    assert got["data"]["error"] == "ERROR_TIMEOUT" and "sale" in got["data"]
    if gochip.reference:
        assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@pytest.mark.parametrize(("amount", "code"), [("99.99", "A"), ("101.23", "D"), ("100.00", "A")])
@case("gochip/B.6/2", title="First Data simulator: under $100 approves, above $100 the last "
      "digits are the response code", failure="First Data test amounts do not decide")
def test_first_data_amounts(gochip: Any, amount: str, code: str) -> None:
    if not gochip.reference:
        pytest.skip("the gateway simulator is the reference's")
    c = gochip.client()
    assert sale_of(gochip.run(lambda: setup_and_sell(c, amount)))["code"] == code
    check_invariants(gochip)


@pytest.mark.parametrize(("amount", "code"), [("12.01", "D"), ("12.02", "R"), ("12.03", "D"),
                                              ("12.04", "A")])
@case("gochip/B.6/3", title="TSYS Sierra simulator: cents .01 decline, .02 referral, .03 CVV "
      "failure, others approve", failure="TSYS test amounts do not decide")
def test_tsys_amounts(request: pytest.FixtureRequest, world: Any, amount: str, code: str) -> None:
    from conformance.options import target_url

    if target_url(request.config, "gochip") is not None:
        pytest.skip("the gateway simulator is the reference's")
    target = GoChipTarget(world, None, AgentConfig(gateway="tsys"))
    try:
        c = target.client()
        assert sale_of(target.run(lambda: setup_and_sell(c, amount)))["code"] == code
        check_invariants(target)
    finally:
        target.close()


@case("gochip/B.6/4", title="TSYS Sierra: Amex $10.00 gets no host answer (comm error)",
      failure="the Amex timeout amount is not honoured")
def test_tsys_amex_timeout(request: pytest.FixtureRequest, world: Any) -> None:
    from conformance.options import target_url

    if target_url(request.config, "gochip") is not None:
        pytest.skip("the gateway simulator is the reference's")
    target = GoChipTarget(world, None, AgentConfig(gateway="tsys", cards=("amex-chip-pin",)))
    try:
        c = target.client()
        got = target.run(lambda: setup_and_sell(c, "10.00"))
        assert got["type"] == "RES_ON_TRANSACTION_COMM_ERROR", got
        check_invariants(target)
    finally:
        target.close()


@case("gochip/B.6/5", title="a second sale while one runs is refused with messageTypeSource; "
      "the first completes", failure="two sales run at once on one connection")
def test_second_sale_refused(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "5.00"})
        second = yield from c.request("REQ_PROCESS_SALE", {"amount": "6.00"},
                                      "RES_ON_SALE_RESPONSE")
        first = yield from c.final()
        return second, first

    second, first = gochip.run(script)
    error_of(second, "REQ_PROCESS_SALE")
    assert sale_of(first)["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.6/6", title="an unknown request type gets RES_ON_WS_ERROR naming it",
      failure="an unknown request is ignored or kills the connection")
def test_unknown_request(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        bad = yield from c.request("REQ_MAKE_COFFEE", {}, "RES_ON_COFFEE")
        ok = yield from c.request("REQ_GET_TRANSACTIONS", {}, "RES_ON_TRANSACTION_LIST_RESPONSE")
        return bad, ok

    bad, ok = gochip.run(script)
    assert error_of(bad, "REQ_MAKE_COFFEE")["type"] == "RES_ON_WS_ERROR"
    assert ok["type"] == "RES_ON_TRANSACTION_LIST_RESPONSE"


@case("gochip/B.6/7", title="an answer to a prompt nobody asked is refused with RES_ON_ERROR",
      failure="a stray REQ_SUBMIT_* is accepted")
def test_stray_prompt_answer(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        return (yield from c.request("REQ_SUBMIT_SIGNATURE",
                                     {"signatureData": [{"x": 1, "y": 2}]}, "RES_ON_NOTHING"))

    error_of(gochip.run(script), "REQ_SUBMIT_SIGNATURE")


@case("gochip/B.6/8", title="a wrong application index is refused and the prompt stays open "
      "for a right one", failure="a wrong selection answer breaks the sale")
def test_wrong_application_index(gochip: Any) -> None:
    gochip.present("elo-combo")
    c = gochip.client()
    c.answers["RES_ON_SELECT_APPLICATION"] = None

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "20.00"})
        yield from c.wait_for("RES_ON_SELECT_APPLICATION", 120.0)
        wrong = yield from c.request("REQ_SUBMIT_APPLICATION", {"index": 7}, "RES_ON_NOTHING")
        c.send("REQ_SUBMIT_APPLICATION", {"index": 0})
        return wrong, (yield from c.final())

    wrong, final = gochip.run(script)
    error_of(wrong, "REQ_SUBMIT_APPLICATION")
    assert sale_of(final)["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.6/9", title="a POS that leaves mid-sale loses nothing and the agent serves the "
      "next one", failure="a dropped connection leaves money booked or the reader stuck")
def test_pos_leaves_mid_sale(gochip: Any) -> None:
    first = gochip.client("pos-a")

    def leave() -> Any:
        yield from first.setup()
        first.send("REQ_PROCESS_SALE", {"amount": "5.00"})
        yield from first.wait_for("RES_ON_MESSAGE", 30.0)
        first.close()
        yield gochip.world.timeout(90.0)

    gochip.run(leave)
    second = gochip.client("pos-b")
    final = gochip.run(lambda: setup_and_sell(second, "6.00"))
    assert sale_of(final)["code"] == "A"
    check_invariants(gochip)
