"""The same flows over real loopback sockets, WebSocket and framed TCP, on the wall clock."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

pytest.importorskip("simulator.ports.ws")
pytest.importorskip("simulator.ports.tcp")

from protocol_servers.p3 import live  # noqa: E402
from protocol_servers.p3.client import P3Client  # noqa: E402
from protocol_servers.p3.config import DeviceConfig, ServerConfig  # noqa: E402
from protocol_servers.p3.server import PayServer  # noqa: E402
from simulator.world import World  # noqa: E402

pytestmark = pytest.mark.realtime
RESOURCE = "devices/mockReader"


def tx_of(msg: dict[str, Any]) -> dict[str, Any]:
    return msg["executeTransactionResponse"]["transaction"]  # type: ignore[no-any-return]


def run_pos(script: Any, factor: float = 0.02, config: ServerConfig | None = None
            ) -> tuple[PayServer, Any]:
    """Serve on both transports, run ``script(world, ws_client, tcp_client)`` to its end."""
    world = World(seed=5, mode="realtime", factor=factor)
    server = PayServer(world, config)

    async def main() -> Any:
        await live.attach_readers(server)
        ep = await live.start(server, "127.0.0.1", 0, 0)
        try:
            assert ep.ws_url.startswith("ws://127.0.0.1:") and ep.tcp_url.startswith("tcp://")
            ws = await live.connect(world, ep.ws_url, "pos-ws")
            tcp = await live.connect(world, ep.tcp_url, "pos-tcp")
            proc = world.process(script(world, ws, tcp))
            result = await world.run_realtime(until=proc)
            ws.end.close()
            tcp.end.close()
            return result
        finally:
            await ep.close()
            server.close()

    return server, asyncio.run(main())


def flows_on(c: P3Client):  # type: ignore[no-untyped-def]
    """Chip+PIN, signature, multi-application, abort and refund, in a row."""
    out: dict[str, Any] = {}
    yield from c.login()
    out["pin"] = yield from c.final(c.execute(RESOURCE, amount="40.00"))
    tag = c.execute(RESOURCE, amount="10.00")
    yield from c.action(tag)
    yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST",
                                    {"signature": "iVBORw0KGgo=", "verified": True}, RESOURCE))
    out["signature"] = yield from c.final(tag)
    tag = c.execute(RESOURCE, amount="5.10")
    action = yield from c.action(tag)
    aid = action["executeTransactionAction"]["applications"][1]["applicationIdentifier"]
    yield from c.response(c.request("SUBMIT_APPLICATION_SELECTION_REQUEST",
                                    {"applicationIdentifier": aid}, RESOURCE))
    out["multiapp"] = yield from c.final(tag)
    tag = c.execute(RESOURCE, amount="5.00")
    yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
    out["abort_resp"] = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None,
                                                        RESOURCE))
    out["abort"] = yield from c.final(tag)
    ident = tx_of(out["pin"])["identifier"]
    out["refund"] = yield from c.final(c.execute(RESOURCE, type_="REFUND", amount="40.00",
                                                 referencedTransactionIdentifier=ident))
    return out


def check(out: dict[str, Any]) -> None:
    assert tx_of(out["pin"])["status"] == "APPROVED"
    assert tx_of(out["pin"])["paymentDetails"]["customerVerification"] == "PIN"
    assert tx_of(out["signature"])["paymentDetails"]["customerVerification"] == "SIGNATURE"
    assert tx_of(out["multiapp"])["paymentDetails"]["scheme"] == "MAESTRO"
    assert out["abort_resp"]["status"] == "OK" and tx_of(out["abort"])["status"] == "ABORTED"
    assert tx_of(out["refund"])["type"] == "REFUND"
    assert tx_of(out["refund"])["status"] == "APPROVED"


@pytest.mark.parametrize("which", ["ws", "tcp"])
def test_all_flows_over_real_sockets(which: str) -> None:
    def script(world: World, ws: P3Client, tcp: P3Client):  # type: ignore[no-untyped-def]
        return (yield from flows_on(ws if which == "ws" else tcp))

    server, out = run_pos(script)
    check(out)
    assert server.gateway.ledger.balanced


def test_tcp_framing_faults_over_a_real_socket() -> None:
    login = (b'{"tag":"t1","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":'
             b'{"providerMode":"MOCK","merchantIdentifier":"m","merchantSecret":"s"}}')
    frame = struct.pack(">I", len(login)) + login

    def script(world: World, ws: P3Client, tcp: P3Client):  # type: ignore[no-untyped-def]
        for piece in (frame[:3], frame[3:20], frame[20:] + frame):  # split, then two in one
            tcp.send_raw(piece)
            yield world.timeout(0.2)
        tcp.send_raw(struct.pack(">I", 5) + b"\xff\xfe\xfd\xfc\xfb")  # not UTF-8
        tcp.send_raw(struct.pack(">I", 1 << 30))  # over the limit: error, then closed
        yield from tcp.wait_for(lambda m: False, timeout=5)
        return tcp

    _, tcp = run_pos(script)
    assert [m["status"] for m in tcp.received] == ["OK", "OK", "ERROR", "ERROR"]
    assert tcp.closed


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("which", ["ws", "tcp"])
def test_card_flows_through_a_pinpad_on_a_pty(which: str) -> None:
    """The ABECS pinpad sits on a real pty: chip+PIN (ARQC verified by the acquirer), a
    signature card with a submitted signature, an abort that cancels the pinpad, and a
    refund of the first charge."""
    cards = ("visa-chip-pin", "mc-chip-signature", "visa-chip-pin")
    cfg = ServerConfig(devices=(DeviceConfig("counter", "Counter", "MIURA", "USB", cards=cards,
                                             customer={"presentation": "insert"}),))
    res = "devices/counter"

    def script(world: World, ws: P3Client, tcp: P3Client):  # type: ignore[no-untyped-def]
        c = ws if which == "ws" else tcp
        out: dict[str, Any] = {}
        yield from c.login()
        out["pin"] = yield from c.final(c.execute(res, amount="12.00"))
        tag = c.execute(res, amount="12.00")
        action = yield from c.action(tag)
        assert action["type"] == "EXECUTE_TRANSACTION_ACTION", action
        yield from c.response(c.request("SUBMIT_SIGNATURE_REQUEST",
                                        {"signature": "iVBORw0KGgo=", "verified": True}, res))
        out["signature"] = yield from c.final(tag)
        tag = c.execute(res, amount="12.00")
        yield from c.update(tag, "PROCESSING_WAITING_FOR_CARD_PRESENTATION")
        out["abort_resp"] = yield from c.response(c.request("ABORT_TRANSACTION_REQUEST", None,
                                                            res))
        out["abort"] = yield from c.final(tag)
        ident = tx_of(out["pin"])["identifier"]
        out["refund"] = yield from c.final(c.execute(res, type_="REFUND", amount="12.00",
                                                     referencedTransactionIdentifier=ident))
        return out

    # pty delivery takes ~0.1 s of wall time; ABECS waits 2 s for an ACK, so a factor
    # below ~0.1 would make the link itself time out
    server, out = run_pos(script, factor=0.25, config=cfg)
    t = tx_of(out["pin"])
    assert t["status"] == "APPROVED" and t["paymentDetails"]["customerVerification"] == "PIN"
    assert tx_of(out["signature"])["paymentDetails"]["customerVerification"] == "SIGNATURE"
    assert out["abort_resp"]["status"] == "OK" and tx_of(out["abort"])["status"] == "ABORTED"
    assert tx_of(out["refund"])["status"] == "APPROVED"
    ledger = server.acquirer.ledger
    sales = [e for e in ledger.entries if e.kind == "sale"]
    assert len(sales) == 2 and all(e.meta["cryptogram_ok"] for e in sales)
    assert [e.kind for e in ledger.entries][-1] == "refund"
    assert ledger.problems() == []
    assert any(e.port == "counter.pinpad" for e in server.world.transcript.entries)


def test_login_on_one_websocket_and_charge_on_another() -> None:
    """As the public P3 clients do: a socket to log in, a fresh one for each request."""
    world = World(seed=5, mode="realtime", factor=0.02)
    server = PayServer(world)  # the default configuration, as ``cardloop serve p3``

    async def main() -> Any:
        ep = await live.start(server, "127.0.0.1", 0, 0)
        try:
            first = await live.connect(world, ep.ws_url, "pos-login")
            second = await live.connect(world, ep.ws_url, "pos-execute")

            def script():  # type: ignore[no-untyped-def]
                yield from first.login()
                first.end.close()
                return (yield from second.final(second.execute(RESOURCE, amount="40.00")))

            result = await world.run_realtime(until=world.process(script()))
            second.end.close()
            return result
        finally:
            await ep.close()
            server.close()

    final = asyncio.run(main())
    assert final["status"] == "OK", final
    assert tx_of(final)["status"] == "APPROVED"
    assert server.gateway.ledger.balanced
