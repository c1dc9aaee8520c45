"""paymentsense-connect.md §3 (JSON-RPC 2.0, whose §6 defines batches): what each shape
of batch is answered with.

JSON-RPC 2.0 §6: an empty array is one Invalid Request error (not an array); an array of
non-objects gets an array with one Invalid Request error per item; a batch of
notifications only gets nothing at all; otherwise one array holds the answer to every
request of the batch and nothing for its notifications.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import case

from .conftest import GBP


def sent_back(connect: Any, raw: str) -> list[Any]:
    """What the server sent for ``raw`` (each WebSocket message parsed), the socket still
    serving afterwards."""
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        c.send_raw(raw)
        yield connect.world.timeout(1.0)
        count = len(c.texts)
        rsp = yield from c.call("terminalDetails", {"tid": GBP})
        return count, rsp

    count, rsp = connect.run(script)
    assert rsp is not None and rsp.error is None, "the socket stopped serving"
    return [json.loads(t) for t in c.texts[:count]]


@pytest.mark.parametrize("raw, want", [
    ("[]", "one-error"),
    ("[1]", [None]),
    ("[1, 2, 3]", [None, None, None]),
    (json.dumps([{"jsonrpc": "2.0", "method": "connectedTerminals"},
                 {"jsonrpc": "2.0", "method": "terminalDetails", "params": {"tid": GBP}}]),
     "nothing"),
    (json.dumps([{"jsonrpc": "2.0", "id": 31, "method": "terminalDetails",
                  "params": {"tid": GBP}},
                 {"jsonrpc": "2.0", "method": "connectedTerminals"},
                 {"jsonrpc": "2.0", "id": 32, "method": "frobnicate"},
                 {"jsonrpc": "2.0", "id": 33, "method": "connectedTerminals"}]),
     [31, 32, 33]),
], ids=["empty", "one-non-object", "non-objects", "notifications-only", "mixed"])
@case("connect/3/4", title="batches: an empty one is one Invalid Request error, non-objects "
      "one error each in an array, notifications only get nothing, a mixed one a single "
      "array with one answer per request", section="3",
      failure="a batch is answered in the wrong shape, with missing or extra answers")
def test_batch_shapes(connect: Any, raw: str, want: Any) -> None:
    got = sent_back(connect, raw)
    if want == "nothing":
        assert got == [], got
        return
    assert len(got) == 1, f"expected one message, got {got}"
    (message,) = got
    if want == "one-error":
        assert isinstance(message, dict), message
        assert message["id"] is None and message["error"]["code"] == -32600, message
        return
    assert isinstance(message, list), message
    assert sorted(m["id"] is None and -1 or m["id"] for m in message) == \
        sorted(-1 if w is None else w for w in want), message
    for m in message:
        if m["id"] is None:
            assert m["error"]["code"] == -32600, m
        elif m["id"] == 32:
            assert m["error"]["code"] == -32601, m
        else:
            assert "result" in m and "error" not in m, m


@pytest.mark.parametrize("rid", ["true", "false", "-1", "1.5", "null", "[1]", "{}",
                                 "1000000"])
@case("connect/3/5", title="a request id outside §3's integers 0-999999 (a boolean, a "
      "negative, a fraction, null, an array, an object, one past the top) is refused "
      "-32600 with id null, and nothing runs", section="3",
      failure="a request with an id the schemas forbid is served, or its id is echoed")
def test_bad_ids(connect: Any, rid: str) -> None:
    raw = ('{"jsonrpc":"2.0","id":' + rid
           + ',"method":"terminalDetails","params":{"tid":"' + GBP + '"}}')
    got = sent_back(connect, raw)
    assert len(got) == 1 and isinstance(got[0], dict), got
    assert got[0]["id"] is None and got[0]["error"]["code"] == -32600, got[0]
    assert "result" not in got[0]
