"""The server on real sockets, started through the server contract: refusals over HTTP,
a chip and PIN sale over ws:// with the pinpad on a pty, and wss://."""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
from typing import Any

import pytest

from protocol_servers.connect.client import ConnectClient
from protocol_servers.connect.contract import SERVER
from simulator.ports.ws import HandshakeRefused, connect_ws
from simulator.world import World


def _options(**over: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    SERVER.add_arguments(parser)
    ns = parser.parse_args([])
    for k, v in over.items():
        setattr(ns, k, v)
    return ns


def _run(coro: Any) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def test_contract_start_sale_and_refusals() -> None:
    # the pinpad's serial line is a real pty: ABECS link timings stay near real time
    world = World(seed=1, mode="realtime", factor=1.0)

    async def scenario() -> tuple[Any, Any, Any, list[str]]:
        started = await SERVER.start(world, _options())
        driver = asyncio.ensure_future(world.run_realtime())
        try:
            pac = started.urls["pac"]
            refusals = []
            for url in (pac.replace("token=", "token=x"), pac.replace("api-version=v1",
                                                                        "api-version=v9")):
                try:
                    await connect_ws(world, url)
                except HandshakeRefused as exc:
                    refusals.append((exc.status, exc.json()))
            end = await connect_ws(world, pac, name="epos")
            client = ConnectClient(world, end)
            done = asyncio.get_running_loop().create_future()

            def script():  # type: ignore[no-untyped-def]
                rsp = yield from client.transaction("sale", "22162152", 1234)
                done.set_result(rsp)

            world.inject(lambda: world.process(script()))
            rsp = await asyncio.wait_for(done, 60)
            state = started.state()
            return refusals, rsp, state, started.banner
        finally:
            driver.cancel()
            await started.close()

    refusals, rsp, state, banner = _run(scenario())
    assert [r[0] for r in refusals] == [401, 400], refusals
    assert all(r[1]["userMessage"] for r in refusals)
    assert rsp.result["transactionResult"] == "SUCCESSFUL"
    assert state["ledger"]["settled"] == 1234
    text = "\n".join(banner)
    assert "token=" in text and "/pac?" in text and "/pat?" in text
    assert "VCMINVLSIP0" in text and "VCMINVLSIP0-pinpad" in text  # pinpads on ptys


def test_wss_with_certificate_made_at_start() -> None:
    world = World(seed=1, mode="realtime", factor=0.02)

    made: list[str] = []

    async def scenario() -> Any:
        started = await SERVER.start(world, _options(tls=True,
                                                     memory_pinpads=True))
        driver = asyncio.ensure_future(world.run_realtime())
        try:
            ca = next(line.split(": ", 1)[1] for line in started.banner if "CA certificate" in line)
            made.append(ca)
            ctx = ssl.create_default_context(cafile=ca)
            end = await connect_ws(world, started.urls["pac"], ssl_context=ctx)
            client = ConnectClient(world, end)
            done = asyncio.get_running_loop().create_future()

            def script():  # type: ignore[no-untyped-def]
                done.set_result((yield from client.call("connectedTerminals")))

            world.inject(lambda: world.process(script()))
            return await asyncio.wait_for(done, 10)
        finally:
            driver.cancel()
            await started.close()

    rsp = _run(scenario())
    assert started_scheme(rsp) and isinstance(rsp.result, list)
    # the certificate belongs to the run's key: a stopped server leaves no file behind
    assert made and not os.path.exists(made[0])


def started_scheme(rsp: Any) -> bool:
    return rsp is not None and rsp.error is None


@pytest.mark.parametrize("query, status", [("", 401), ("?token=t", 401)])
def test_handshake_rule(query: str, status: int) -> None:
    from urllib.parse import parse_qsl

    from protocol_servers.connect import handshake
    got = handshake.check("/pac", dict(parse_qsl(query.lstrip("?"))), ("right",))
    assert isinstance(got, tuple) and got[0] == status


def test_handshake_versions() -> None:
    from protocol_servers.connect import handshake

    ok_v0 = handshake.check("/pac", {"token": "k"}, ("k",))
    assert isinstance(ok_v0, handshake.Accepted) and ok_v0.version == "v0"
    missing = handshake.check("/pac", {"token": "k", "api-version": "v1"}, ("k",))
    assert isinstance(missing, tuple) and missing[0] == 400
    assert "software-house-id" in missing[1]["userMessage"]
    bad_path = handshake.check("/xyz", {"token": "k"}, ("k",))
    assert isinstance(bad_path, tuple) and bad_path[0] == 400
    flag = handshake.check("/pat", {"token": "k", "final-pos-receipt-request": ""}, ("k",))
    assert isinstance(flag, handshake.Accepted) and flag.final_receipt
