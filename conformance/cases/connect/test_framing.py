"""paymentsense-connect.md §3 (JSON-RPC 2.0 framing) and §6 (errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants


def _answers(connect: Any, raw: str) -> list[Any]:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        c.send_raw(raw)
        yield connect.world.timeout(1.0)
        # the socket still serves after whatever it was sent
        rsp = yield from c.call("connectedTerminals")
        return rsp

    rsp = connect.run(script)
    assert rsp is not None and rsp.error is None, "the socket stopped serving"
    return [m for m in c.received if m is not c.received[-1]]


@pytest.mark.parametrize("raw, code, echo_id", [
    ('{"jsonrpc":"2.0","id":1,"method":"connectedTerminals"', -32700, None),
    ("not json at all", -32700, None),
    ('{"id":2,"method":"connectedTerminals"}', -32600, 2),
    ('{"jsonrpc":"1.0","id":3,"method":"connectedTerminals"}', -32600, 3),
    ('{"jsonrpc":"2.0","id":"4","method":"connectedTerminals"}', -32600, None),
    ('{"jsonrpc":"2.0","id":1000000,"method":"connectedTerminals"}', -32600, None),
    ('{"jsonrpc":"2.0","id":5,"method":"connectedTerminals","extra":1}', -32600, 5),
    ('{"jsonrpc":"2.0","id":6,"method":7}', -32600, 6),
    ('{"jsonrpc":"2.0","id":7,"method":"frobnicate"}', -32601, 7),
    ('{"jsonrpc":"2.0","id":8,"method":"tableListRequest"}', -32601, 8),
    ('{"jsonrpc":"2.0","id":9,"method":"sale","params":{"tid":"22162152"}}', -32602, 9),
    ('{"jsonrpc":"2.0","id":10,"method":"sale","params":{"tid":"22162152","currency":"GBP",'
     '"amount":0}}', -32602, 10),
    ('{"jsonrpc":"2.0","id":11,"method":"sale","params":{"tid":"22162152","currency":"EUR",'
     '"amount":100}}', -32602, 11),
    ('{"jsonrpc":"2.0","id":12,"method":"sale","params":{"tid":"22162152","currency":"GBP",'
     '"amount":100,"amountCashback":10001}}', -32602, 12),
    ('{"jsonrpc":"2.0","id":13,"method":"refund","params":{"tid":"22162152","currency":"GBP",'
     '"amount":100,"amountCashback":100}}', -32602, 13),
    ('{"jsonrpc":"2.0","id":14,"method":"completion","params":{"tid":"22162152",'
     '"currency":"GBP","amount":100}}', -32602, 14),
    ('{"jsonrpc":"2.0","id":15,"method":"sale","params":{"tid":"22162152","currency":"GBP",'
     '"amount":100,"colour":"red"}}', -32602, 15),
    ('{"jsonrpc":"2.0","id":16,"method":"terminalDetails","params":{"tid":"NOPE"}}',
     -32070, 16),
    ('{"jsonrpc":"2.0","id":17,"method":"cancelTransaction","params":{"tid":"22162152"}}',
     -32072, 17),
])
@case("connect/6/1", title="every JSON-RPC error and every error of the §6 table, with a "
      "userMessage; the socket goes on", section="6",
      failure="bad input is dropped, answered with a result, or ends the connection")
def test_errors(connect: Any, raw: str, code: int, echo_id: Any) -> None:
    got = _answers(connect, raw)
    errs = [m for m in got if "error" in m]
    assert len(errs) == 1, f"expected one error answer, got {got}"
    err = errs[0]
    assert err["jsonrpc"] == "2.0" and err["id"] == echo_id
    assert err["error"]["code"] == code
    if code not in (-32700,):
        data = err["error"].get("data") or {}
        assert isinstance(data.get("userMessage"), str) and data["userMessage"]
    check_invariants(connect)


@case("connect/3/1", title="a batch is answered with one array; notifications in it get "
      "nothing", section="3", failure="batch answers are split, missing or extra")
def test_batch(connect: Any) -> None:
    c = connect.open()
    raw = json.dumps([
        {"jsonrpc": "2.0", "id": 21, "method": "connectedTerminals"},
        {"jsonrpc": "2.0", "method": "connectedTerminals"},
        {"jsonrpc": "2.0", "id": 22, "method": "terminalDetails", "params": {"tid": GBP}},
        {"foo": "bar"},
    ])

    def script():  # type: ignore[no-untyped-def]
        c.send_raw(raw)
        yield connect.world.timeout(1.0)

    connect.run(script)
    arrays = [m for m in c.received]
    ids = sorted(str(m.get("id")) for m in arrays)
    assert ids == ["21", "22", "None"], arrays


@case("connect/3/2", title="reply ids are the integers the EPoS sent", section="3",
      failure="the id of an answer differs from the request's (type or value)")
def test_ids_echoed(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        c.send_raw('{"jsonrpc":"2.0","id":0,"method":"connectedTerminals"}')
        c.send_raw('{"jsonrpc":"2.0","id":999999,"method":"connectedTerminals"}')
        yield connect.world.timeout(1.0)

    connect.run(script)
    assert [m["id"] for m in c.received] == [0, 999999]
    assert all(type(m["id"]) is int for m in c.received)


@case("connect/3/3", title="a notification from the EPoS is never answered", section="3",
      failure="the server answered a notification")
def test_notification_unanswered(connect: Any) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        c.send_raw('{"jsonrpc":"2.0","method":"connectedTerminals"}')
        c.send_raw('{"jsonrpc":"2.0","method":"nonsense","params":{}}')
        yield connect.world.timeout(1.0)

    connect.run(script)
    assert c.received == []
