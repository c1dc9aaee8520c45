"""paymentsense-connect.md §4.3, §6 and §8: each parameter limit at its boundary and one
past it, each wrong type, and the empty values a careless EPoS sends.

§8 (REST v2 bounds): ``amount`` 1…99999999, ``amountCashback`` 0…10000,
``amountPreAuthorisedTotal`` 1…99999999; ``accountVerification`` is a zero-value check,
so its amount may be 0 (§4.3). ``completion`` needs the pre-authorisation's ``authCode``
(a string: an empty one names no pre-authorisation). ``cardholderNotPresent`` is a
boolean; ``tid`` a string; ``currency`` GBP or EUR in capitals (§4.3 enum). A value one
past a limit is refused with -32602 and ``data.userMessage`` (§6 table) and the terminal
stays free; a value at the limit is taken (it runs to a transaction result).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants

BASE = {"tid": GBP, "currency": "GBP", "amount": 100}


@pytest.mark.parametrize("method, params", [
    ("sale", {**BASE, "amount": 100000000}),
    ("sale", {**BASE, "amount": -1}),
    ("sale", {**BASE, "amount": True}),
    ("sale", {**BASE, "amount": "100"}),
    ("sale", {**BASE, "amount": 100.5}),
    ("accountVerification", {**BASE, "amount": -1}),
    ("refund", {**BASE, "amount": 0}),
    ("sale", {**BASE, "amountCashback": -1}),
    ("sale", {**BASE, "amountCashback": True}),
    ("sale", {**BASE, "amountCashback": "500"}),
    ("preAuth", {**BASE, "amountCashback": 1}),
    ("completion", {**BASE, "authCode": ""}),
    ("completion", {**BASE, "authCode": 123456}),
    ("completion", {**BASE, "authCode": "ABC123", "amountPreAuthorisedTotal": 0}),
    ("completion", {**BASE, "authCode": "ABC123", "amountPreAuthorisedTotal": 100000000}),
    ("completion", {**BASE, "authCode": "ABC123", "amountPreAuthorisedTotal": "100"}),
    ("sale", {**BASE, "cardholderNotPresent": "yes"}),
    ("sale", {**BASE, "cardholderNotPresent": 1}),
    ("sale", {**BASE, "currency": "gbp"}),
    ("sale", {**BASE, "currency": "USD"}),
    ("sale", {**BASE, "currency": None}),
    ("sale", {**BASE, "tid": ""}),
    ("sale", {**BASE, "tid": 22162152}),
    ("reportXBalance", {"tid": ""}),
    ("duplicate", {"tid": 22162152}),
])
@case("connect/8/2", title="one past each limit, a wrong type or an empty value is refused "
      "with -32602, a userMessage and the tid it named, and the terminal stays free",
      section="8",
      failure="a value outside §8's bounds, of the wrong type or empty is taken as a "
      "transaction, or refused with another code")
def test_one_past_the_limit(connect: Any, method: str, params: dict[str, Any]) -> None:
    c = connect.open()

    def script():  # type: ignore[no-untyped-def]
        refused = yield from c.call(method, params, limit=5.0)
        listed = yield from c.call("terminalDetails", {"tid": GBP})
        return refused, listed

    refused, listed = connect.run(script)
    assert refused is not None, f"{method} {params}: no answer"
    assert refused.error is not None, f"{method} {params} was taken: {refused.result}"
    assert refused.error.code == -32602, (method, params, refused.error)
    data = refused.error.data or {}
    assert isinstance(data.get("userMessage"), str) and data["userMessage"], refused.error
    if params.get("tid") == GBP:  # §6 table: a terminal's refusal names the terminal
        assert data.get("tid") == GBP, refused.error
    else:  # no terminal was named: none is made up, not even a null one
        assert "tid" not in data or isinstance(data["tid"], str), refused.error
    assert listed.result["status"] == "AVAILABLE", "a refused request left the terminal busy"
    assert not [v for _, v in c.notifications], "a refused request started a transaction"
    check_invariants(connect)


@case("connect/8/3", title="each limit itself is taken: amount 1 and 99999999, cashback "
      "10000, a zero account verification, amountPreAuthorisedTotal 1 and 99999999 on a "
      "completion", section="8",
      failure="a value at a §8 bound is refused as if it were past it")
def test_at_the_limit(connect: Any) -> None:
    c = connect.open()
    requests: list[tuple[str, dict[str, Any]]] = [("sale", {**BASE, "amount": 1}),
                ("sale", {**BASE, "amount": 99999999}),
                ("sale", {**BASE, "amount": 100, "amountCashback": 10000}),
                ("accountVerification", {**BASE, "amount": 0}),
                ("completion", {**BASE, "authCode": "NOSUCH", "amountPreAuthorisedTotal": 1}),
                ("completion", {**BASE, "authCode": "NOSUCH",
                                "amountPreAuthorisedTotal": 99999999})]

    def script():  # type: ignore[no-untyped-def]
        out = []
        for method, params in requests:
            rsp = yield from c.call(method, params)
            if rsp is not None and rsp.error is None:
                c.remember(rsp.result)
            out.append(rsp)
        return out

    for (method, params), rsp in zip(requests, connect.run(script), strict=True):
        assert rsp is not None and rsp.error is None, (method, params, rsp and rsp.error)
        tx = rsp.result
        assert tx["amountBase"] == params["amount"], (method, tx)
        assert tx["transactionResult"] in ("SUCCESSFUL", "DECLINED"), (method, tx)
        if tx["transactionResult"] == "SUCCESSFUL":
            cashback = params.get("amountCashback", 0)
            assert (tx["amountCashback"], tx["amountTotal"]) == \
                (cashback, params["amount"] + cashback), (method, tx)
    check_invariants(connect)
