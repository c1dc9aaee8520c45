"""paymentsense-connect.md §2.1-§2.2 with DECISIONS.md: each variant of the connection
URL a client may send, accepted or refused as the rules say.

Accepted: the integration type in either case (§2.1: "lower case in the docs; one
third-party comment used /PAT"), no ``api-version`` (an unversioned socket gets v0,
§2.1/§12), v0 without the partner ids (introduced in v1), the final-receipt flag with a
value as well as bare (a valueless flag, §2.1). Refused: an empty token or an empty
partner id (401 and 400, as missing ones), an unknown integration type (400).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.connect.client import Table
from protocol_servers.connect.pat import WaiterPlan

from .conftest import GBP


@pytest.mark.parametrize("path, version, drop, key", [
    ("/PAC", "v1", (), "tid"),
    ("/Pac", "v1", (), "tid"),
    ("/pac", "v1", ("api-version",), "tpi"),
    ("/pac", "v0", ("software-house-id", "installer-id"), "tpi"),
], ids=["upper", "mixed", "no-version-is-v0", "v0-without-ids"])
@case("connect/2.1/3", title="URL variants that open: the path in any case, no api-version "
      "(v0, answering with tpi), v0 without partner ids", section="2.1",
      failure="a documented variant of the URL is refused, or speaks the other version")
def test_url_variants_open(connect: Any, path: str, version: str, drop: tuple[str, ...],
                           key: str) -> None:
    url = connect.url_for(path, version, drop=drop)
    if version == "v0":
        assert "software-house-id" not in url and "installer-id" not in url
    c = connect.try_open(url, version="v1" if key == "tid" else "v0")
    assert not isinstance(c, tuple), f"refused: {c}"
    rsp = connect.run(lambda: c.call("connectedTerminals"))
    assert rsp is not None and rsp.error is None, rsp
    assert rsp.result and all(key in t for t in rsp.result), rsp.result
    other = "tpi" if key == "tid" else "tid"
    assert not any(other in t for t in rsp.result), rsp.result


@pytest.mark.parametrize("change, status", [
    ({"token": ""}, 401),
    ({"software-house-id": ""}, 400),
    ({"installer-id": ""}, 400),
    ({"path": "/pos"}, 400),
    ({"path": "/pac/extra"}, 400),
], ids=["empty-token", "empty-software-house", "empty-installer", "unknown-path",
        "longer-path"])
@case("connect/2.2/3", title="an empty token or partner id is refused like a missing one; "
      "an unknown integration type is refused 400; each with a userMessage", section="2.2",
      failure="an empty credential or an unknown path is accepted")
def test_empty_values_refused(connect: Any, change: dict[str, Any], status: int) -> None:
    change = dict(change)
    path = change.pop("path", "/pac")
    got = connect.try_open(connect.url_for(path, "v1", **change))
    assert isinstance(got, tuple), "the handshake was accepted"
    code, body = got
    assert code == status, (code, body)
    assert isinstance(body, dict) and isinstance(body.get("userMessage"), str)
    assert body["userMessage"]


@pytest.mark.parametrize("flag", ["&final-pos-receipt-request=", "&final-pos-receipt-request=1",
                                  ""], ids=["empty-value", "a-value", "absent"])
@case("connect/2.1/4", title="final-pos-receipt-request with or without a value asks for the "
      "final receipt; without the flag it is not asked", section="2.1",
      failure="the flag with a value is ignored, or the final receipt is asked without it")
def test_final_receipt_flag_values(connect: Any, flag: str) -> None:
    url = connect.url_for("/pat") + flag
    c = connect.try_open(url, "pat-epos", tables={"T1": Table("T1", 500)})
    assert not isinstance(c, tuple), f"refused: {c}"
    connect.waiter_result(connect.start_waiter(GBP, WaiterPlan()))
    methods = [r["method"] for r in c.server_requests]
    assert ("finalPOSReceiptRequest" in methods) is bool(flag), methods
