"""The codec against every example of the JSON-RPC 2.0 specification (jsonrpc.org, §7).

A small dispatcher plays the specification's server (``subtract``, ``sum``, ``update``,
``get_data``, ``notify_hello``, ``notify_sum``); each example's request goes in as the
text the specification shows and what comes out must be the answer it shows. Batch
answers are compared without their order, as the specification allows; the codec adds
a ``data.userMessage`` to ``-32600``, which the comparison leaves aside.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from protocol_servers.connect import jsonrpc as rpc


def _dispatch(ep: rpc.Endpoint, text: str) -> list[Any]:
    for ev in ep.receive(text):
        if not isinstance(ev, rpc.Request):
            continue
        p = ev.params
        if ev.method == "subtract":
            value = p[0] - p[1] if isinstance(p, list) else p["minuend"] - p["subtrahend"]
            ep.result(ev, value)
        elif ev.method == "sum":
            ep.result(ev, sum(p))
        elif ev.method == "get_data":
            ep.result(ev, ["hello", 5])
        else:
            ep.error(ev, rpc.RpcError(rpc.METHOD_NOT_FOUND))
    return [json.loads(t) for t in ep.data_to_send()]


def _strip(obj: Any) -> Any:
    if isinstance(obj, list):
        return sorted((_strip(o) for o in obj), key=lambda o: json.dumps(o, sort_keys=True))
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "data"}
    return obj


EXAMPLES = [
    # positional parameters
    ('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}',
     '{"jsonrpc": "2.0", "result": 19, "id": 1}'),
    ('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}',
     '{"jsonrpc": "2.0", "result": -19, "id": 2}'),
    # named parameters
    ('{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42},'
     ' "id": 3}', '{"jsonrpc": "2.0", "result": 19, "id": 3}'),
    ('{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23},'
     ' "id": 4}', '{"jsonrpc": "2.0", "result": 19, "id": 4}'),
    # notifications
    ('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}', None),
    ('{"jsonrpc": "2.0", "method": "foobar"}', None),
    # non-existent method
    ('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}',
     '{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}'),
    # invalid JSON
    ('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]',
     '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}'),
    # invalid Request object
    ('{"jsonrpc": "2.0", "method": 1, "params": "bar"}',
     '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}'),
    # batch, invalid JSON
    ('[ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
     ' {"jsonrpc": "2.0", "method" ]',
     '{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}'),
    # empty array
    ("[]",
     '{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}'),
    # invalid batch, not empty
    ("[1]",
     '[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]'),
    # invalid batch
    ("[1,2,3]",
     '[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},'
     ' {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},'
     ' {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]'),
    # batch
    ('[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
     ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},'
     ' {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},'
     ' {"foo": "boo"},'
     ' {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},'
     ' {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]',
     '[{"jsonrpc": "2.0", "result": 7, "id": "1"},'
     ' {"jsonrpc": "2.0", "result": 19, "id": "2"},'
     ' {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},'
     ' {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},'
     ' {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}]'),
    # batch, all notifications
    ('[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},'
     ' {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]', None),
]


@pytest.mark.parametrize("request_text, answer_text", EXAMPLES)
def test_specification_examples(request_text: str, answer_text: str | None) -> None:
    out = _dispatch(rpc.Endpoint(), request_text)
    if answer_text is None:
        assert out == []
    else:
        assert len(out) == 1
        assert _strip(out[0]) == _strip(json.loads(answer_text))


def test_batch_answer_waits_for_every_request() -> None:
    ep = rpc.Endpoint()
    events = ep.receive('[{"jsonrpc":"2.0","method":"a","id":1},'
                        '{"jsonrpc":"2.0","method":"b","id":2}]')
    a, b = events
    assert isinstance(a, rpc.Request) and isinstance(b, rpc.Request)
    ep.result(b, "B")
    assert ep.data_to_send() == []  # one array, once both are answered
    ep.result(a, "A")
    (text,) = ep.data_to_send()
    assert sorted(m["id"] for m in json.loads(text)) == [1, 2]
    with pytest.raises(RuntimeError):
        ep.result(a, "again")


def test_own_requests_matched_by_id() -> None:
    ep = rpc.Endpoint(max_id=3)
    first = ep.request("signatureVerificationRequest", {"tid": "T1"})
    second = ep.request("other")
    sent = [json.loads(t) for t in ep.data_to_send()]
    assert [m["id"] for m in sent] == [first, second]
    events = ep.receive(json.dumps({"jsonrpc": "2.0", "id": second, "result": {"ok": 1}}))
    assert events == [rpc.Response(second, {"ok": 1}, None, "other")]
    (late,) = ep.receive(json.dumps({"jsonrpc": "2.0", "id": second, "result": {}}))
    assert isinstance(late, rpc.UnexpectedResponse)  # answered once; a repeat matches nothing
    (err,) = ep.receive(json.dumps({"jsonrpc": "2.0", "id": first,
                                    "error": {"code": -1, "message": "no"}}))
    assert isinstance(err, rpc.Response) and err.error is not None and err.error.code == -1
    assert ep.data_to_send() == []  # answers are never answered


def test_ids_wrap_and_skip_pending() -> None:
    ep = rpc.Endpoint(max_id=2)
    ids = [ep.request("m") for _ in range(2)]
    ep.receive(json.dumps({"jsonrpc": "2.0", "id": ids[0], "result": None}))
    third = ep.request("m")
    assert third != ids[1]  # still pending: never reused
    assert ids == [1, 2] and third in (0, 1)


def test_narrow_id_rule() -> None:
    def integer(value: object) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999999
        return None if ok else "id must be an integer 0..999999"

    ep = rpc.Endpoint(id_rule=integer)
    (ev,) = ep.receive('{"jsonrpc":"2.0","method":"x","id":"7"}')
    assert isinstance(ev, rpc.Rejected)
    (out,) = [json.loads(t) for t in ep.data_to_send()]
    assert out["id"] is None and out["error"]["code"] == -32600
    assert "integer" in out["error"]["data"]["userMessage"]


@pytest.mark.parametrize("text", [
    '{"jsonrpc": "2.0", "method": "\\ud800", "id": 1}',
    '{"jsonrpc": "2.0", "method": "x", "id": "a\\udfff"}',
    '{"jsonrpc": "\\udbff", "method": "x", "id": 1}',
])
def test_lone_surrogates_go_out_as_utf8_text(text: str) -> None:
    """What an answer echoes of a lone surrogate must still encode: a socket send of
    text that cannot be UTF-8 raises, and the peer would never hear the error."""
    ep = rpc.Endpoint()
    for ev in ep.receive(text):
        if isinstance(ev, rpc.Request):
            ep.error(ev, rpc.RpcError(rpc.METHOD_NOT_FOUND, ev.method))
    out = ep.data_to_send()
    assert out, "no answer"
    for answer in out:
        answer.encode("utf-8")  # raises on a lone surrogate
        assert "error" in json.loads(answer)


@pytest.mark.parametrize("text", [
    "[" * 10_000 + "]" * 10_000,
    '{"jsonrpc":"2.0","id":1,"method":' + '{"a":' * 10_000 + "1" + "}" * 10_000 + "}",
    '{"jsonrpc":"2.0","id":1,"method":"sale","params":{"currency":'
    + "[" * 5000 + "]" * 5000 + "}}",
])
def test_deep_nesting_gets_a_parse_error(text: str) -> None:
    """Nesting past the recursion limit is answered with -32700, not a dead message."""
    ep = rpc.Endpoint()
    (event,) = ep.receive(text)
    assert isinstance(event, rpc.Rejected)
    (answer,) = [json.loads(t) for t in ep.data_to_send()]
    assert answer["error"]["code"] == rpc.PARSE_ERROR and answer["id"] is None
