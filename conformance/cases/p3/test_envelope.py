"""payworks-p3.md §3 (envelope), §2.4 (sessions) and §4.3 (login)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import case
from protocol_servers.p3 import tcpframes

from .steps import check_invariants, login, tx_of


@case("p3/3/1", title="the tag of a request is echoed on every update, action and response",
      section="3", failure="updates or the final response do not carry the request's tag")
def test_tag_echoed(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="10.00")
        action = yield from c.action(tag)
        assert action is not None and action["type"] == "EXECUTE_TRANSACTION_ACTION"
        c.request("SUBMIT_SIGNATURE_REQUEST", {"signatureOnReceipt": True}, p3.resource)
        return tag, (yield from c.final(tag))

    tag, final = p3.run(script)
    tx_of(final)
    mine = [m for m in c.received if m["type"].startswith("EXECUTE_TRANSACTION")]
    assert mine and all(m["tag"] == tag for m in mine)
    assert all(m.get("resource") == p3.resource for m in mine)
    check_invariants(p3)


@case("p3/3/2", title="the payload sits under the lowerCamelCase name of the type",
      section="3", failure="payload keys do not follow the type name")
def test_payload_key(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        yield from login(c, p3)
        tag = c.execute(p3.resource, amount="5.00")
        return (yield from c.final(tag))

    p3.run(script)
    for m in c.received:
        if m.get("status") == "ERROR":
            continue
        first, *rest = m["type"].lower().split("_")
        key = first + "".join(w.capitalize() for w in rest)
        assert key in m, f"{m['type']} has no {key}"
    assert all("status" not in m for m in c.received if m["type"].endswith(("UPDATE", "ACTION")))


@pytest.mark.parametrize("raw, answer_type, error_type", [
    ('{"tag":"u1","type":"FROBNICATE_REQUEST"}', "FROBNICATE_RESPONSE", "PARAMETER_INVALID"),
    ('{"tag":"u2","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":{}}',
     "LOGIN_MERCHANT_RESPONSE", "PARAMETER_MISSING"),
    ('{"tag":"u3","type":"EXECUTE_TRANSACTION_REQUEST","resource":"devices/mockReader"}',
     "EXECUTE_TRANSACTION_RESPONSE", "PARAMETER_MISSING"),
    ('{"tag":"u4","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":{"providerMode":'
     '"SANDBOX","merchantIdentifier":"m","merchantSecret":"s"}}',
     "LOGIN_MERCHANT_RESPONSE", "PARAMETER_INVALID"),
    # junk in every shape: not JSON, cut-off JSON, JSON that is not an object. No type
    # can be read, so the answer's type is the server's own, its tag empty (§9)
    ("this is not json", None, "PARAMETER_INVALID"),
    ('{"tag":"u5","type":"LOGIN_MERCHANT_REQUEST"', None, "PARAMETER_INVALID"),
    ('["LOGIN_MERCHANT_REQUEST"]', None, "PARAMETER_INVALID"),
])
@case("p3/3/3", title="unknown types, missing fields and junk get an error response, "
      "never a dropped connection", section="3",
      failure="bad input is dropped, answered with OK, or closes the connection")
def test_bad_input_answered(p3: Any, raw: str, answer_type: str | None,
                            error_type: str | None) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        if answer_type is not None:
            c.send(json.loads(raw))
        elif p3.transport == "tcp":
            c.send_raw(tcpframes.encode(raw.encode()))
        else:
            c.send_raw(raw)
        first = yield from c.wait_for(lambda m: True, timeout=10)
        after = yield from c.login()
        return first, after

    first, after = p3.run(script)
    assert first is not None and first["status"] == "ERROR"
    if answer_type is not None:
        assert first["type"] == answer_type
    else:
        assert first["tag"] == "", f"no tag can be read from junk, yet the answer has {first}"
    assert first["error"]["type"] == error_type, first["error"]
    assert {"type", "message", "developerMessage"} <= set(first["error"])
    assert after is not None and after["status"] == "OK", "the connection did not survive"


@case("p3/2.4/1", title="a device request before any login is refused with an error that "
      "says the login is missing", section="2.4",
      failure="transactions run before any merchant logged in, or the POS is told its "
      "credentials failed when it never sent any")
def test_execute_before_login(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.final(c.execute(p3.resource, amount="5.00")))

    final = p3.run(script)
    assert final["status"] == "ERROR", final
    error = final.get("error") or {}
    assert error.get("type") != "SERVER_AUTHENTICATION_FAILED", (
        f"no credentials were sent, so nothing failed to authenticate: {error}")
    said = f"{error.get('message', '')} {error.get('developerMessage', '')}".lower()
    assert "login" in said, f"the error must say that a login is missing: {error}"


@case("p3/2.4/3", title="a login on one connection holds for a request on another",
      section="2.4",
      failure="a POS that logs in on one socket and executes on a second one (as the public "
      "P3 clients do) is refused")
def test_login_holds_for_the_server(p3: Any) -> None:
    first, second = p3.client("pos-login"), p3.client("pos-execute")

    def script():  # type: ignore[no-untyped-def]
        yield from login(first, p3)
        return (yield from second.final(second.execute(p3.resource, amount="5.00")))

    final = p3.run(script)
    assert final["status"] == "OK", final
    assert tx_of(final)["status"] == "APPROVED", tx_of(final)


@case("p3/2.4/2", title="a second transaction on a busy device gets ACCESSORY_BUSY",
      section="2.4", failure="two transactions run on one device at once")
def test_busy_device(p3: Any) -> None:
    a, b = p3.client("pos-a"), p3.client("pos-b")

    def script():  # type: ignore[no-untyped-def]
        yield from login(a, p3)
        yield from login(b, p3)
        tag = a.execute(p3.resource, amount="5.00")
        yield from a.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        busy = yield from b.final(b.execute(p3.resource, amount="6.00"))
        return busy, (yield from a.final(tag))

    busy, final = p3.run(script)
    assert busy["status"] == "ERROR" and busy["error"]["type"] == "ACCESSORY_BUSY"
    assert tx_of(final)["status"] == "APPROVED"
    check_invariants(p3)


@pytest.mark.parametrize("mode", ["MOCK", "JUNGLE", "TEST", "TEST_FIXED", "LIVE", "LIVE_FIXED"])
@case("p3/4.3/1", title="login accepts the six provider modes and lists the devices",
      section="4.3", failure="a documented providerMode is refused or devices are missing")
def test_login_modes(p3: Any, mode: str) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        return (yield from c.login(mode=mode))

    resp = p3.run(script)
    assert resp["status"] == "OK"
    for d in resp["loginMerchantResponse"]["devices"]:
        assert {"name", "identifier", "resource", "type", "comlink"} <= set(d)
        assert d["resource"] == f"devices/{d['identifier']}"
        assert d["type"] in ("MOCK", "MIURA", "VERIFONE")
