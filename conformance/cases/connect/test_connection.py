"""paymentsense-connect.md §2: the URL and its query (§2.1), refusals (§2.2),
keep-alive (§2.3), several sockets (§2.4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance import case

from .conftest import GBP
from .steps import check_invariants, final


@pytest.mark.parametrize("path, version", [("/pac", "v1"), ("/pac", "v0"), ("/pat", "v1")])
@case("connect/2.1/1", title="a socket with the token, api-version and partner ids opens",
      section="2.1", failure="a well-formed connection URL is refused")
def test_opens(connect: Any, path: str, version: str) -> None:
    c = connect.try_open(connect.url_for(path, version), version=version)
    assert not isinstance(c, tuple), f"refused: {c}"
    if path == "/pac":
        rsp = connect.run(lambda: c.call("connectedTerminals"))
        assert rsp is not None and rsp.error is None
    check_invariants(connect)


@case("connect/2.1/2", title="final-pos-receipt-request is a flag without a value",
      section="2.1", failure="the bare flag is refused")
def test_flag(connect: Any) -> None:
    url = connect.url_for("/pat") + "&final-pos-receipt-request"
    c = connect.try_open(url)
    assert not isinstance(c, tuple), f"refused: {c}"


@pytest.mark.parametrize("change, status", [
    ({"drop": ("token",)}, 401),
    ({"token": "not-the-key"}, 401),
    ({"api-version": "v7"}, 400),
    ({"drop": ("software-house-id",)}, 400),
    ({"drop": ("installer-id",)}, 400),
])
@case("connect/2.2/1", title="a wrong or missing token is refused 401, a bad version or a "
      "missing id 400, with a JSON userMessage", section="2.2",
      failure="a bad handshake is accepted, or refused without the documented status and body")
def test_refusals(connect: Any, change: dict[str, Any], status: int) -> None:
    change = dict(change)
    drop = change.pop("drop", ())
    version = change.pop("api-version", "v1")
    url = connect.url_for("/pac", "v1", drop=drop, **change)
    if version != "v1":
        url = url.replace("api-version=v1", f"api-version={version}")
    got = connect.try_open(url)
    assert isinstance(got, tuple), "the handshake was accepted"
    code, body = got
    assert code == status
    assert isinstance(body, dict) and isinstance(body.get("userMessage"), str)
    assert body["userMessage"]


@case("connect/2.3/1", title="the server pings and closes with 1011 when no pong comes",
      section="2.3", failure="a client that stopped answering pings is kept open")
def test_missed_pong(connect: Any) -> None:
    connect.need_reference("needs the reference's ping timings")
    from websockets.asyncio.client import connect as ws_connect

    from protocol_servers.connect import live
    from protocol_servers.connect.server import ServerConfig
    from simulator.world import World

    world = World(seed=1, mode="realtime", factor=0.01)  # 30 s ping = 0.3 s wall

    async def scenario() -> tuple[Any, Any]:
        ep = await live.start(world, ServerConfig(), pinpads="memory")
        driver = asyncio.ensure_future(world.run_realtime())
        try:
            quiet = await ws_connect(ep.pac_url, ping_interval=None)
            good = await ws_connect(ep.pac_url, ping_interval=None)
            quiet.transport.pause_reading()  # this one never sees a ping, never pongs
            await asyncio.sleep(0.8)
            await good.send('{"jsonrpc":"2.0","id":1,"method":"connectedTerminals"}')
            answer = await asyncio.wait_for(good.recv(), 2)
            quiet.transport.resume_reading()  # now read what the server said meanwhile
            await asyncio.wait_for(quiet.wait_closed(), 5)
            return quiet.close_code, answer
        finally:
            driver.cancel()
            await ep.close()

    loop = asyncio.new_event_loop()
    try:
        code, answer = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert code == 1011
    assert '"result"' in answer  # the client that answers pings is still served


@case("connect/2.4/1", title="several PAC sockets share the terminals", section="2.4",
      failure="a second EPoS socket cannot use the terminals")
def test_two_pac_sockets(connect: Any) -> None:
    a, b = connect.open(name="epos-a"), connect.open(name="epos-b")

    def script():  # type: ignore[no-untyped-def]
        ra = yield from a.call("connectedTerminals")
        rb = yield from b.call("connectedTerminals")
        rid = b.request("sale", {"tid": GBP, "currency": "GBP", "amount": 500})
        tx = yield from final(b, rid)
        b.remember(tx)
        return ra, rb, tx

    ra, rb, tx = connect.run(script)
    assert ra.result == rb.result
    assert tx["transactionResult"] == "SUCCESSFUL"
    assert a.notifications == [], "notifications went to a socket that did not start the sale"
    check_invariants(connect)


@case("connect/2.4/2", title="PAT: the newest socket wins, the older hears "
      "'Connection discontinued' and is closed", section="2.4",
      failure="two PAT sockets are served at once, or the older is dropped silently")
def test_pat_newest_wins(connect: Any) -> None:
    old = connect.open("/pat", name="pat-old")
    connect.settle(0.1)
    new = connect.open("/pat", name="pat-new")
    connect.settle(0.5)
    assert old.closed, "the older PAT socket is still open"
    errs = [m for m in old.received if "error" in m]
    assert errs, "the older socket was closed without a word"
    assert "discontinued" in errs[-1]["error"]["message"].lower()
    assert not new.closed
