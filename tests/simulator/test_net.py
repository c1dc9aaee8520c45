"""WebSocket and TCP ports round trip over loopback in realtime mode."""

from __future__ import annotations

import asyncio
import struct

import pytest

from simulator.framing import FramingError, LengthPrefixFraming, NewlineFraming, StxEtxFraming
from simulator.ports.tcp import connect_tcp, serve_tcp
from simulator.ports.ws import HandshakeRefused, connect_ws, serve_ws
from simulator.world import World

pytestmark = pytest.mark.realtime


def _upper_server(w: World, seen: list):
    """A server behaviour: answers each message upper-cased after 10 ms of thinking;
    answers a framing error with a JSON error and closes."""

    def on_connect(end, info):
        seen.append(info)

        def serve():
            while True:
                msg = yield end.recv()
                if msg is None:
                    return
                if isinstance(msg, FramingError):
                    end.send(b'{"error":"bad frame"}')
                    end.close()
                    return
                yield w.timeout(0.01)
                end.send(msg.upper())

        w.process(serve())

    return on_connect


def _run(w: World, coro_fn, timeout: float = 20.0):
    async def main():
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(main())


def test_websocket_round_trip_query_and_close_code():
    w = World(seed=1, mode="realtime", factor=0.2)
    seen: list = []

    async def main():
        server = await serve_ws(w, "127.0.0.1", 0, path="/mpos",
                                on_connect=_upper_server(w, seen))
        client = await connect_ws(w, server.url + "?terminal=T1", name="pos")

        def pos():
            client.send("hello")
            text = yield client.recv()
            client.send(b"bin")
            data = yield client.recv()
            client.close(4000, "done")
            yield w.timeout(0.05)
            return text, data

        result = await w.run_realtime(until=w.process(pos()))
        # let the server see the close frame
        await w.run_realtime(until=w.now + 0.5)
        await server.close()
        return result, server.ends

    (text, data), ends = _run(w, main)
    assert (text, data) == ("HELLO", b"BIN")
    assert seen[0].path == "/mpos" and seen[0].query == {"terminal": "T1"}
    assert ends[0].close_code == 4000 and ends[0].close_reason == "done"
    assert [e.port for e in w.transcript.select(direction="rx")] == ["server#1", "pos"] * 2


def test_websocket_handshake_refusal_and_unknown_path():
    w = World(seed=1, mode="realtime")

    async def main():
        def check(info):
            if info.query.get("token") != "secret":
                return 401, {"userMessage": "Invalid token"}
            return None

        server = await serve_ws(w, "127.0.0.1", 0, path="/pac", check_request=check)
        errors = []
        for url in (server.url + "?token=wrong", server.url.replace("/pac", "/nope")):
            try:
                await connect_ws(w, url)
            except HandshakeRefused as exc:
                errors.append((exc.status, exc.json()))
        ok = await connect_ws(w, server.url + "?token=secret")
        ok.close()
        await server.close()
        return errors

    errors = _run(w, main)
    assert errors[0] == (401, {"userMessage": "Invalid token"})
    assert errors[1][0] == 404


def test_a_subprotocol_the_server_does_not_speak_is_refused_with_a_reason():
    w = World(seed=1, mode="realtime")

    async def main():
        plain = await serve_ws(w, "127.0.0.1", 0, path="/mpos")
        speaking = await serve_ws(w, "127.0.0.1", 0, path="/m", subprotocols=["p3.v1"])
        refused = []
        for server, offer in ((plain, ["graphql-ws"]), (speaking, ["chat", "superchat"])):
            try:
                await connect_ws(w, server.url, subprotocols=offer)
            except HandshakeRefused as exc:
                refused.append((exc.status, exc.json()["error"]))
        ok = await connect_ws(w, speaking.url, subprotocols=["chat", "p3.v1"])
        bare = await connect_ws(w, plain.url)  # no offer: served as before
        ok.close()
        bare.close()
        await plain.close()
        await speaking.close()
        return refused

    refused = _run(w, main)
    assert [status for status, _ in refused] == [400, 400]
    assert "graphql-ws" in refused[0][1] and "speaks none" in refused[0][1]
    assert "chat, superchat" in refused[1][1] and "speaks p3.v1" in refused[1][1]
    assert "unsupported WebSocket subprotocol graphql-ws" in w.transcript.jsonl()


@pytest.mark.parametrize("framing", [LengthPrefixFraming, StxEtxFraming, NewlineFraming])
def test_framed_tcp_round_trip(framing):
    w = World(seed=1, mode="realtime", factor=0.1)
    seen: list = []

    async def main():
        server = await serve_tcp(w, "127.0.0.1", 0, framing=framing,
                                 on_connect=_upper_server(w, seen))
        client = await connect_tcp(w, "127.0.0.1", server.port, framing=framing)

        def pos():
            replies = []
            for word in (b"one", b"two", b"three"):
                client.send(word)
            for _ in range(3):
                replies.append((yield client.recv()))
            client.close()
            return replies

        replies = await w.run_realtime(until=w.process(pos()))
        await server.close()
        return replies

    assert _run(w, main) == [b"ONE", b"TWO", b"THREE"]
    assert seen[0].peer[0] == "127.0.0.1"


def test_bad_length_prefix_reaches_the_server_as_a_framing_error():
    w = World(seed=1, mode="realtime", factor=0.1)

    async def main():
        server = await serve_tcp(w, "127.0.0.1", 0, framing=LengthPrefixFraming(max_length=64),
                                 on_connect=_upper_server(w, []))
        raw = await connect_tcp(w, "127.0.0.1", server.port, name="raw")

        def pos():
            raw.write(struct.pack(">I", 3) + b"abc" + struct.pack(">I", 65) + b"x")
            got = b""
            while True:
                data = yield raw.read()
                if not data:
                    return got
                got += data

        got = await w.run_realtime(until=w.process(pos()))
        await server.close()
        return got

    got = _run(w, main)
    body = b'{"error":"bad frame"}'
    assert got == struct.pack(">I", 3) + b"ABC" + struct.pack(">I", len(body)) + body
    labels = [e.label for e in w.transcript.select("server#1", "rx")]
    assert labels[1].startswith("framing error: length prefix 65 exceeds the maximum of 64")


def test_raw_tcp_is_a_byte_stream():
    w = World(seed=1, mode="realtime", factor=0.1)

    async def main():
        def on_connect(end, info):
            def echo():
                while True:
                    data = yield end.read()
                    if not data:
                        return
                    end.write(data)

            w.process(echo())

        server = await serve_tcp(w, "127.0.0.1", 0, on_connect=on_connect)
        client = await connect_tcp(w, "127.0.0.1", server.port)

        def pos():
            client.write(b"x" * 100_000)
            got = b""
            while len(got) < 100_000:
                got += yield client.read()
            client.close()
            return got

        got = await w.run_realtime(until=w.process(pos()))
        await server.close()
        return got

    assert _run(w, main) == b"x" * 100_000


def test_keepalive_closes_a_silent_client_with_1011():
    w = World(seed=1, mode="realtime")

    async def main():
        ends = []
        server = await serve_ws(
            w, "127.0.0.1", 0, path="/pac", on_connect=lambda e, i: ends.append(e),
            ping_interval=0.05, ping_timeout=0.05, close_timeout=0.1,
        )
        # a client that completes the handshake and then never answers a ping
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET /pac HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await reader.readuntil(b"\r\n\r\n")
        await w.run_realtime(until=w.now + 1.0)
        writer.close()
        await server.close()
        return ends

    ends = _run(w, main)
    assert len(ends) == 1 and ends[0].is_closed
    assert ends[0].local_close_code == 1011


def test_faults_apply_on_real_ports_too():
    from simulator.faults import Corrupt

    w = World(seed=4, mode="realtime", factor=0.1)
    w.faults.add(Corrupt(port="server#*", direction="rx", bits=1))

    async def main():
        server = await serve_tcp(w, "127.0.0.1", 0, framing=NewlineFraming,
                                 on_connect=_upper_server(w, []))
        client = await connect_tcp(w, "127.0.0.1", server.port, framing=NewlineFraming)

        def pos():
            client.send(b"abcdefgh")
            reply = yield client.recv()
            client.close()
            return reply

        reply = await w.run_realtime(until=w.process(pos()))
        await server.close()
        return reply

    reply = _run(w, main)
    assert reply != b"ABCDEFGH" and len(reply) == 8
    assert any(e.label.startswith("fault: corrupt 1 bit(s)") for e in w.transcript.entries)
