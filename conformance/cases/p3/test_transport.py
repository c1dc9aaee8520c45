"""payworks-p3.md §2: the two transports."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from conformance import case
from protocol_servers.p3 import tcpframes

from .steps import check_invariants, login

LOGIN = (b'{"tag":"t-1","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":'
         b'{"providerMode":"MOCK","merchantIdentifier":"m","merchantSecret":"s"}}')


@case("p3/2.1/1", title="one P3 message per transport message, login answered", section="2.1",
      failure="the server does not answer a well-formed LOGIN_MERCHANT_REQUEST")
def test_login_round_trip(p3: Any) -> None:
    c = p3.client()
    resp = p3.run(login, c, p3)
    assert resp["type"] == "LOGIN_MERCHANT_RESPONSE" and resp["tag"] == c.sent[0]["tag"]
    check_invariants(p3)


def _raw_exchange(p3: Any, chunks: list[bytes], wait: float, expect: int):  # type: ignore[no-untyped-def]
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        for chunk in chunks:
            c.send_raw(chunk)
            yield p3.world.timeout(0.05)
        yield from c.wait_for(lambda m: len(c.received) >= expect, timeout=wait)
        return c

    return p3.run(script)


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/1", title="a frame split across packets is reassembled", section="2.2",
      failure="a frame delivered in pieces is not answered")
def test_split_frame(p3: Any) -> None:
    frame = tcpframes.encode(LOGIN)
    c = _raw_exchange(p3, [frame[:2], frame[2:7], frame[7:40], frame[40:]], 5.0, 1)
    assert [m["type"] for m in c.received] == ["LOGIN_MERCHANT_RESPONSE"]
    assert c.received[0]["status"] == "OK"


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/2", title="two frames in one packet get two answers", section="2.2",
      failure="the second of two frames in one packet is lost")
def test_two_frames_one_packet(p3: Any) -> None:
    other = LOGIN.replace(b"t-1", b"t-2")
    c = _raw_exchange(p3, [tcpframes.encode(LOGIN) + tcpframes.encode(other)], 5.0, 2)
    assert [m["tag"] for m in c.received] == ["t-1", "t-2"]


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/3", title="a length over the limit is answered with an error and closed",
      section="2.2", failure="an oversized length prefix is not answered, or the server "
      "waits for megabytes that will never come")
def test_length_over_limit(p3: Any) -> None:
    c = _raw_exchange(p3, [struct.pack(">I", 0x7FFFFFFF) + b"{}"], 5.0, 1)
    assert c.received and c.received[0]["status"] == "ERROR"
    assert c.received[0]["error"]["type"] == "PARAMETER_INVALID"
    p3.settle(0.5)
    assert c.closed, "the server keeps a stream it can no longer frame"


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/4", title="a length that promises more than arrives gets an error", section="2.2",
      failure="a lying length prefix hangs the connection without an answer")
def test_length_that_lies(p3: Any) -> None:
    c = _raw_exchange(p3, [struct.pack(">I", 500) + LOGIN], 30.0, 1)
    assert c.received and c.received[0]["status"] == "ERROR"


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/5", title="invalid UTF-8 in a frame is answered and the connection goes on",
      section="2.2", failure="invalid UTF-8 drops the connection or is ignored")
def test_invalid_utf8(p3: Any) -> None:
    c = _raw_exchange(p3, [tcpframes.encode(b'{"tag":"\xff\xfe"}'), tcpframes.encode(LOGIN)],
                      5.0, 2)
    assert c.received[0]["status"] == "ERROR"
    assert c.received[1]["type"] == "LOGIN_MERCHANT_RESPONSE"
    assert c.received[1]["status"] == "OK"


@pytest.mark.parametrize("transport", ["tcp"])
@case("p3/2.2/6", title="a zero length frame is an error", section="2.2",
      failure="an empty frame is silently accepted")
def test_zero_length(p3: Any) -> None:
    c = _raw_exchange(p3, [b"\x00\x00\x00\x00"], 5.0, 1)
    assert c.received and c.received[0]["status"] == "ERROR"


@pytest.mark.parametrize("transport", ["ws"])
@case("p3/2.1/2", title="a binary WebSocket message that is not UTF-8 is answered and the "
      "connection goes on", section="2.1",
      failure="a non-UTF-8 message drops the connection or is ignored")
def test_ws_binary_not_utf8(p3: Any) -> None:
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        c.send_raw(b'{"tag":"\xff\xfe","type":"LOGIN_MERCHANT_REQUEST"}')
        first = yield from c.wait_for(lambda m: True, timeout=10)
        after = yield from c.login()
        return first, after

    first, after = p3.run(script)
    assert first is not None and first["status"] == "ERROR"
    assert after is not None and after["status"] == "OK"
