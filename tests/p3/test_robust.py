"""One bad message never stops the PayServer, and no money moves that the POS is not told."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from protocol_servers.p3 import receipts
from protocol_servers.p3.client import P3Client

RESOURCE = "devices/mockReader"
Rig = Any


def _answers_then_login(rig: Rig, raws: list[str]) -> tuple[list[dict[str, Any]], Any]:
    c: P3Client = rig.client()

    def script():  # type: ignore[no-untyped-def]
        for raw in raws:
            c.send_raw(raw) if rig.transport == "ws" else c.send_raw(
                len(raw.encode()).to_bytes(4, "big") + raw.encode())
        seen = yield from c.wait_for(lambda m: False, timeout=1.0)
        assert seen is None
        login = yield from c.login()
        return login

    login = rig.run(script)
    return [m for m in c.received if m.get("status") == "ERROR"], login


@pytest.mark.parametrize("raw", [
    '{"type":"A","tag":"\\ud800"}',
    '{"type":"\\udfff","tag":"t"}',
    '{"type":"LOGIN_MERCHANT_REQUEST","tag":"t","resource":"\\ud800"}',
    "[" * 10_000 + "]" * 10_000,
    '{"type":"A","tag":"t","x":' + "{\"a\":" * 5000 + "1" + "}" * 5000 + "}",
])
def test_bad_text_is_answered_and_the_server_goes_on(rig: Rig, raw: str) -> None:
    errors, login = _answers_then_login(rig, [raw])
    assert len(errors) == 1 and errors[0]["error"]["type"] == "PARAMETER_INVALID"
    assert login["status"] == "OK"
    for line in rig.world.transcript.jsonl().splitlines():  # valid UTF-8 JSON Lines
        json.loads(line.encode("utf-8"))


def test_the_surrogate_tag_is_echoed_as_a_json_escape(rig: Rig) -> None:
    errors, _ = _answers_then_login(rig, ['{"type":"A","tag":"\\ud800"}'])
    assert errors[0]["tag"] == "\ud800"


@pytest.mark.parametrize("field,value", [
    ("amount", "1e26"), ("amount", "1E+999999"),
    ("applicationFee", "1e26"), ("includedTipAmount", "1e26"), ("applicationFee", "20.00"),
])
def test_numbers_out_of_bounds_are_refused_before_anything_moves(
        rig: Rig, field: str, value: str) -> None:
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        # written as the fuzzer wrote them: the number's text exactly as given
        params = '{"type":"CHARGE","currency":"EUR","amount":%s}' % (
            value if field == "amount" else f'10.00,"{field}":{value}')
        raw = (f'{{"type":"EXECUTE_TRANSACTION_REQUEST","tag":"big","resource":"{RESOURCE}",'
               f'"executeTransactionRequest":{{"transactionParameters":{params}}}}}')
        c.send_raw(raw if rig.transport == "ws"
                   else len(raw.encode()).to_bytes(4, "big") + raw.encode())
        return (yield from c.response("big"))

    resp = rig.run(script)
    assert resp["status"] == "ERROR" and resp["error"]["type"] == "PARAMETER_INVALID"
    assert rig.server.gateway.ledger.entries == []
    assert rig.server.devices["mockReader"].current is None


def test_a_failure_after_the_charge_reverses_it_and_the_pos_hears_an_error(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    # the one fault we cannot reach from the wire any more (amounts are bounded at the
    # door), so it is provoked: the receipt builder breaks after the charge was captured
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ArithmeticError("receipt cannot be built")

    monkeypatch.setattr(receipts, "build", broken)
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        tag = c.execute(RESOURCE, amount="12.50")
        final = yield from c.response(tag, "EXECUTE_TRANSACTION_RESPONSE")
        login = yield from c.login()
        return final, login

    final, login = rig.run(script)
    assert final["status"] == "ERROR"
    kinds = [e.kind for e in rig.server.gateway.ledger.entries]
    assert kinds[:2] == ["AUTH", "CAPTURE"] and "REVERSAL" in kinds
    assert sum(amount for _, amount in rig.server.bookings()) == 0
    assert rig.server.ledger_problems() == []
    assert login["status"] == "OK"


def test_an_exception_in_a_request_handler_is_answered_and_logged(
        rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from protocol_servers.p3 import server as server_mod

    calls: list[int] = []
    real: Callable[..., Any] = server_mod.Connection._login

    def flaky(self: Any, req: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug in one request")
        real(self, req)

    monkeypatch.setattr(server_mod.Connection, "_login", flaky)
    c = rig.client()

    def script():  # type: ignore[no-untyped-def]
        first = yield from c.login()
        second = yield from c.login()
        return first, second

    first, second = rig.run(script)
    assert first["status"] == "ERROR" and first["type"] == "LOGIN_MERCHANT_RESPONSE"
    assert first["error"]["type"] == "INTERNAL_INCONSISTENCY"
    assert second["status"] == "OK"
    assert "a bug in one request" in caplog.text


def test_a_mute_chip_card_does_not_break_the_reader_for_the_next_customer() -> None:
    from tests.p3.test_abecs import make, run

    server, c = make("ws", cards=("mc-mute-chip-fallback", "visa-chip-pin"))

    def script():  # type: ignore[no-untyped-def]
        yield from c.login()
        first = yield from c.final(c.execute("devices/counter", amount="12.00"))
        second = yield from c.final(c.execute("devices/counter", amount="12.00"))
        return first, second

    first, second = run(server, script)
    assert first["executeTransactionResponse"]["transaction"]["status"] != "APPROVED"
    assert second["executeTransactionResponse"]["transaction"]["status"] == "APPROVED"
    assert server.ledger_problems() == []
