"""semi-and-websockets.md §B.2/§B.3: where the agent listens, the frame envelope, amounts
as strings in and numbers out, and an error frame for every malformed frame."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from conformance.options import get_options

from . import malformed
from .steps import check_invariants, is_number, sale_of, setup_and_sell

ERRORS = {"RES_ON_ERROR", "RES_ON_WS_ERROR", "RES_ON_DEVICE_ERROR"}
MALFORMED_COUNT = 10_000


@case("gochip/B.2/1", title="the agent serves ws://…/middleware and refuses other paths",
      failure="the agent does not listen on /middleware")
def test_middleware_path(gochip: Any) -> None:
    if gochip.world.mode != "realtime" or gochip.url is None:
        pytest.skip("a real WebSocket is needed (--mode realtime or --target)")
    from simulator.ports.ws import HandshakeRefused, connect_ws

    assert gochip.url.endswith("/middleware")
    other = gochip.url.rsplit("/", 1)[0] + "/elsewhere"
    with pytest.raises(HandshakeRefused):
        gochip.wait(connect_ws(gochip.world, other, name="stray"))


@case("gochip/B.3/1", title="every frame is {type, data} with responseType",
      failure="a frame lacks type, data or responseType")
def test_envelope(gochip: Any) -> None:
    c = gochip.client()
    gochip.run(lambda: setup_and_sell(c, "4.00"))
    for m in c.received:
        assert isinstance(m.get("type"), str) and m["type"].startswith("RES_"), m
        assert isinstance(m.get("data"), dict), m
        assert m.get("responseType") in ("RESPONSE_OK", "RESPONSE_ERROR_GENERAL"), m


@case("gochip/B.3/2", title="amounts: decimal strings in requests, numbers in responses; a "
      "number in a request is refused", failure="amounts do not follow §B.3")
def test_amounts(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        number = yield from c.request("REQ_PROCESS_SALE", {"amount": 4.5},
                                      "RES_ON_SALE_RESPONSE")
        final = yield from c.sale("4.50")
        return number, final

    number, final = gochip.run(script)
    assert number["type"] in ERRORS and number["messageTypeSource"] == "REQ_PROCESS_SALE"
    s = sale_of(final)
    assert is_number(s["authorizedAmount"])
    check_invariants(gochip)


@case("gochip/B.3/3", title=f"{MALFORMED_COUNT} generated malformed frames each get one error "
      "frame and the agent still sells", failure="a malformed frame goes unanswered, gets more "
      "than one answer, or stops the agent")
def test_malformed_frames(request: pytest.FixtureRequest, gochip: Any) -> None:
    seed = get_options(request.config).seed
    count = MALFORMED_COUNT if gochip.world.mode == "virtual" else 1000
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        start = len(c.received)
        for raw in malformed.frames(seed, count):
            c.send_raw(raw)
        yield gochip.world.timeout(5.0)
        answers = c.received[start:]
        c.mark_seen()
        final = yield from c.sale("3.00")
        return answers, final

    answers, final = gochip.run(script)
    kinds = [m["type"] for m in answers]
    assert len(kinds) == count, f"{count} malformed frames, {len(kinds)} answers"
    assert set(kinds) <= ERRORS, sorted(set(kinds) - ERRORS)
    assert sale_of(final)["code"] == "A"
