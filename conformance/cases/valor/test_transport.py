"""semi-and-websockets.md §A.2 (who connects) and §A.3 (framing on the wire)."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case

from .steps import check_invariants, exchange, final_of, sale

PING = b'{"TRAN_MODE":"96"}'


@case("valor/A.2/1", title="the terminal serves a POS that connects to it (server role)",
      section="A.2", failure="a POS connecting on the terminal's port is not served")
def test_server_role(valor: Any) -> None:
    pos = valor.pos()
    frame = valor.run(pos.ping)
    assert frame == {"STATE": "0", "MSG": "ACK"}
    check_invariants(valor)


@case("valor/A.3/1", title="a sale in each framing: the reply uses the request's framing",
      section="A.3", failure="a request in one of the documented framings is not served, or "
      "the answer comes back in another framing than the request's")
def test_sale_each_framing(valor: Any) -> None:
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250, REQ_TXN_ID="A3-1"))
    final = final_of(res)
    assert final["STATE"] == "0" and final["AMOUNT"] == "1250"
    if valor.framing != "ws":
        # everything that came back is in the request's framing
        raw = valor.arrived(pos)
        if valor.framing == "stx":
            assert raw.startswith(b"\x02{") and raw.endswith(b"}\x03"), raw[:40]
            assert raw.count(b"\x02") == raw.count(b"\x03") == len(res.frames)
        elif valor.framing == "newline":
            assert raw.endswith(b"}\n") and raw.count(b"\n") == len(res.frames), raw[:40]
        else:
            assert b"\n" not in raw and b"\x02" not in raw, raw[:40]
    check_invariants(valor)


@case("valor/A.3/2", title="bare JSON split into single bytes is found by brace depth",
      section="A.3", failure="a request that arrives in pieces is not reassembled")
def test_split_bytes(valor: Any) -> None:
    if valor.framing == "ws":
        pytest.skip("a WebSocket message is never split")
    pos = valor.pos()
    payload = b'{"TRAN_MODE":"96","NOTE":"a } and a { inside a \\"string\\""}'

    def script():  # type: ignore[no-untyped-def]
        for i in range(len(payload)):
            pos.send_raw(payload[i:i + 1]) if valor.framing == "bare" else None
            yield valor.world.timeout(0.01)
        if valor.framing != "bare":
            pos.send_raw(payload)
        frame = yield from pos.wait_frame(0, 5.0)
        return frame

    assert valor.run(script) == {"STATE": "0", "MSG": "ACK"}


@case("valor/A.3/3", title="each frame goes out in its own write",
      section="A.3", failure="the terminal writes two frames in one write; a client that "
      "reads one frame per socket read loses one")
def test_one_frame_per_write(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("needs the reference terminal's transcript")
    pos = valor.pos()
    valor.run(exchange, pos, sale(1250))
    writes = valor.written()
    assert len(writes) >= 3
    for raw in writes:
        assert raw.count(b'"STATE"') == 1, f"two frames in one write: {raw[:120]!r}"


@pytest.mark.parametrize("framing", ["bare"])
@case("valor/A.3/4", title="a JSON + newline client gets its answers with a newline",
      section="A.3", failure="a client that ends its request with a newline gets answers "
      "without one, and its line reader hangs")
def test_late_newline(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        pos.send_raw(PING)
        yield valor.world.timeout(0.01)
        pos.send_raw(b"\n")  # the newline arrives in the next read
        yield from pos.wait_frame(0, 5.0)
        pos.style = "newline"
        pos.send({"TRAN_MODE": "96"})
        yield valor.world.timeout(1.0)

    valor.run(script)
    assert valor.arrived(pos).endswith(b"}\n"), valor.arrived(pos)[-40:]


@pytest.mark.parametrize("framing", ["stx"])
@case("valor/A.3/5", title="strict STX/ETX switch: bare JSON refused, STX/ETX served",
      section="A.3", failure="the strict STX/ETX switch does not hold")
def test_strict_stx(valor: Any) -> None:
    valor.arm("strict_stx")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        pos.send_raw(PING)  # the POS's style is stx: STX + JSON + ETX
        ok = yield from pos.wait_frame(0, 5.0)
        pos.style = "bare"
        pos.send_raw(PING)
        refused = yield from pos.wait_frame(1, 5.0)
        return ok, refused

    ok, refused = valor.run(script)
    assert ok == {"STATE": "0", "MSG": "ACK"}
    assert refused is not None and refused["STATE"] == "-1"


@pytest.mark.parametrize("framing", ["usb"])
@pytest.mark.parametrize("baud", [9600, 115200])
@case("valor/A.3/6", title="USB: literal <STX>/<ETX> markers at 9600 and 115200 baud, "
      "paced by the line", section="A.3",
      failure="the USB variant does not answer the marker framing, or is not paced")
def test_usb_markers(valor: Any, baud: int) -> None:
    if not valor.reference:
        pytest.skip("the USB variant is the reference's pty")
    pos = valor.pos(baud=baud)
    res = valor.run(exchange, pos, sale(1250))
    assert final_of(res)["STATE"] == "0"
    rx = [e for e in valor.world.transcript if e.direction == "rx" and e.port == pos.end.name]
    frame = b'<STX> {"STATE":"0","MSG":"ACK"} <ETX>'
    got, t_first, t_last = b"", rx[0].sim, rx[0].sim
    for e in rx:
        got += bytes.fromhex(e.hex)
        t_last = e.sim
        if len(got) >= len(frame):
            break
    assert got[:len(frame)] == frame, got
    # 8N1: ten bit times per byte, so the frame's last byte lands (n-1) byte times later
    line_time = (len(frame) - 1) * 10 / baud
    assert t_last - t_first >= 0.9 * line_time, (t_last - t_first, line_time)
    check_invariants(valor)


@pytest.mark.parametrize("framing", ["bare", "newline", "stx", "usb"])
@case("valor/A.3/7", title="a frame the terminal could not read is answered in the framing "
      "the connection uses", section="A.3",
      failure="an unreadable frame is answered in another framing (bare JSON to an STX/ETX "
      "or newline client): the client's reader never finds the end of the answer")
def test_unreadable_frame_keeps_framing(valor: Any) -> None:
    """Junk inside the connection's own wrapper, a bare run of junk that shows no
    framing, and an object that never closes (given up after the partial-frame
    timeout): each gets ``STATE -1`` in the framing of the connection's requests."""
    if valor.framing == "ws":
        pytest.skip("a WebSocket message carries its own framing")
    if not valor.reference:
        pytest.skip("what a vendor's terminal answers to junk is its own choice")
    from protocol_servers.valor.wire import Frame, JsonStreamDecoder

    pos = valor.pos()
    junk = [b'{"TRAN_MODE":"1",\x00"AMOUNT"}', b"\xff\xfe not json"]

    def script():  # type: ignore[no-untyped-def]
        yield from pos.ping()  # the connection's framing, from a good request
        for raw in junk:
            n = len(pos.received)
            pos.send_raw(raw)  # wrapped in the connection's framing
            yield from pos.wait_frame(n, 6.0)
        n = len(pos.received)
        pos.end.write(b"#garbage#")  # bare junk: no marker, no newline
        yield from pos.wait_frame(n, 6.0)
        n = len(pos.received)
        pos.end.write(b'{"TRAN_MODE":"9')  # never closes
        yield from pos.wait_frame(n, valor.terminal.t["partial_frame_timeout"] + 6.0)
        yield valor.world.timeout(1.0)

    valor.run(script)
    errors = [f for f in pos.received if f.get("STATE") == "-1"]
    # (a paced USB line hands the bare junk over a byte at a time: one answer per read)
    assert len(errors) >= len(junk) + 2, pos.received
    styles = [i.style for i in JsonStreamDecoder().feed(valor.arrived(pos) + b" ")
              if isinstance(i, Frame)]
    assert len(styles) == len(pos.received), styles
    assert set(styles) == {valor.framing}, styles
