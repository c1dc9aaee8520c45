"""10,000 generated malformed messages each get a JSON-RPC error, and the server still
serves a sale afterwards with its books balanced."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.server import ConnectServer
from simulator.world import World

GBP = "22162152"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=8,
)
ids = st.integers(0, 999999)
bad_ids = st.one_of(st.text(max_size=5), st.integers(max_value=-1),
                    st.integers(min_value=1_000_000), st.floats(allow_nan=False), st.booleans(),
                    st.lists(st.integers(), max_size=2))


_METHODS = {"connectedTerminals", "terminalDetails", "sale", "refund", "preAuth",
            "completion", "accountVerification", "cancelTransaction", "duplicate",
            "reportXBalance", "reportZBalance", "reportBanking", "reportEndOfDay"}


def _unknown_method(name: str) -> bool:
    return name not in _METHODS


def _req(rid: Any, **over: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "connectedTerminals", **over}


malformed = st.one_of(
    # not JSON at all (cut JSON, prose)
    st.text(min_size=1, max_size=40).filter(lambda t: not _parses(t)),
    st.builds(lambda rid, cut: json.dumps(_req(rid))[:cut], ids, st.integers(1, 40)),
    # JSON that is no request object
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)).map(json.dumps),
    # a request with a wrong version, method, params or id
    st.builds(lambda rid, v: json.dumps(_req(rid, jsonrpc=v)), ids,
              json_values.filter(lambda v: v != "2.0")),
    st.builds(lambda rid, m: json.dumps(_req(rid, method=m)), ids,
              json_values.filter(lambda v: not isinstance(v, str))),
    st.builds(lambda rid, m: json.dumps(_req(rid, method=m)), ids,
              st.text(max_size=12).filter(_unknown_method)),
    st.builds(lambda rid, p: json.dumps(_req(rid, params=p)), ids,
              st.one_of(st.integers(), st.text(max_size=5), st.booleans())),
    st.builds(lambda rid: json.dumps(_req(rid)), bad_ids),
    st.builds(lambda rid, k, v: json.dumps({**_req(rid), k: v}), ids,
              st.text(min_size=1, max_size=6).filter(
                  lambda k: k not in ("jsonrpc", "id", "method", "params")), json_values),
    # a sale with bad parameters
    st.builds(lambda rid, p: json.dumps({"jsonrpc": "2.0", "id": rid, "method": "sale",
                                         "params": p}), ids,
              st.fixed_dictionaries({"tid": st.sampled_from([GBP, "NOPE", ""])}, optional={
                  "currency": st.sampled_from(["GBP", "EUR", "USD", 1]),
                  "amount": st.one_of(st.integers(max_value=0), st.integers(min_value=10**8),
                                      st.text(max_size=3)),
                  "amountCashback": st.integers(min_value=10001)})),
)


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_ten_thousand_malformed_messages() -> None:
    world = World(seed=3)
    server = ConnectServer(world)
    end, _ = server.connect_local(server.url())
    client = ConnectClient(world, end)
    seen = {"n": 0}

    @settings(max_examples=10_000, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(malformed)
    def one(raw: str) -> None:
        before = len(client.received)
        client.send_raw(raw)
        world.run(until=world.now + 0.01)
        answers = client.received[before:]
        assert len(answers) == 1, (raw, answers)
        err = answers[0].get("error")
        assert isinstance(err, dict) and isinstance(err.get("code"), int), (raw, answers[0])
        assert err["code"] in (-32700, -32600, -32601, -32602, -32070), (raw, err)
        seen["n"] += 1

    one()
    assert seen["n"] >= 10_000
    assert not client.closed
    proc = world.process(client.transaction("sale", GBP, 1234))
    world.run(until=proc)
    assert proc.value is not None and proc.value.result["transactionResult"] == "SUCCESSFUL"
    assert server.acquirer.ledger.check(client.pos_view) == []
