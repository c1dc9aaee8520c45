"""semi-and-websockets.md §A.7 (errors) and §A.8 (the cloud profile's REQ_TXN_ID rule)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from conformance import case
from protocol_servers.valor import dictionary as d
from protocol_servers.valor.wire import Frame, JsonStreamDecoder

from .steps import check_invariants, error_of, exchange, fetch, final_of, sale


@case("valor/A.7/1", title="AMOUNT 0, negative or decimal is 'Invalid Amount'", section="A.7",
      failure="a money request with a bad amount is not refused with 'Invalid Amount'")
def test_invalid_amount(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        out = []
        for amount in ("0", "-5", "10.00", "abc"):
            out.append((yield from exchange(pos, sale(1250, AMOUNT=amount))))
        return out

    for res in valor.run(script):
        error_of(res, "Invalid Amount")
    check_invariants(valor)


@case("valor/A.7/2", title="void of a TRAN_NO that does not exist is 'No Record Found!'",
      section="A.7", failure="a void of an unknown transaction is not refused")
def test_no_record(valor: Any) -> None:
    pos = valor.pos()
    error_of(valor.run(exchange, pos, fetch("2", TRAN_NO="9999", AMOUNT="0")),
             "No Record Found!")
    error_of(valor.run(exchange, pos, fetch("2", AMOUNT="0")),
             "Tran/Card Number/Transaction ID is Empty")


@case("valor/A.7/3", title="settlement of an empty batch is 'No Transaction To Settle'",
      section="A.7", failure="an empty batch settles as if it held something")
def test_empty_settle(valor: Any) -> None:
    pos = valor.pos()
    valor.run(exchange, pos, fetch("9"))  # a terminal under test may hold a batch already
    error_of(valor.run(exchange, pos, fetch("9")), "No Transaction To Settle")


@case("valor/A.7/4", title="a second request while one runs is 'PROCESSING ERROR'",
      section="A.7", failure="a second request during a sale starts another transaction")
def test_busy(valor: Any) -> None:
    first, second = valor.pos(), valor.pos()

    def script():  # type: ignore[no-untyped-def]
        proc = valor.world.process(first.transact(sale(1250)))
        yield valor.world.timeout(1.0)
        other = yield from second.transact(sale(1300))
        res = yield proc
        return res, other

    res, other = valor.run(script)
    assert final_of(res)["STATE"] == "0"
    error_of(other, "PROCESSING ERROR")
    check_invariants(valor)


NOT_REQUESTS = [b"hello", b"{}", b"[1,2]", b'{"TRAN_MODE":"77"}', b'{"TRAN_MODE":1.5}',
                b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":{"x":1}}', b"{not json}", b"null"]


@case("valor/A.7/5", title="anything that is not a request gets STATE -1 and the terminal "
      "goes on serving", section="A.7",
      failure="input that is not a request is ignored, kills the connection or the terminal")
def test_not_requests(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        answers = []
        for raw in NOT_REQUESTS:
            n = len(pos.received)
            pos.send_raw(raw)
            frame = yield from pos.wait_frame(n, 6.0)
            answers.append(frame)
        res = yield from exchange(pos, sale(1250))
        return answers, res

    answers, res = valor.run(script)
    for raw, frame in zip(NOT_REQUESTS, answers, strict=True):
        assert frame is not None and frame.get("STATE") == "-1", (raw, frame)
    assert final_of(res)["STATE"] == "0"
    check_invariants(valor)


def malformed_inputs(n: int, seed: int, text: bool = False) -> list[bytes]:
    """``n`` inputs that are not requests: mutated, cut, wrapped wrong, binary, deep."""
    rng = random.Random(seed)
    base = [b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"1250","REQ_TXN_ID":"Z"}',
            b'{"TRAN_MODE":"0","TRAN_CODE":"2","TRAN_NO":"1","AMOUNT":"0"}',
            b'{"TRAN_MODE":"96"}', b'{"TRAN_MODE":"90","STAN_NO":"1"}']
    out: list[bytes] = []
    while len(out) < n:
        b = bytearray(rng.choice(base))
        how = rng.randrange(8)
        if how == 0:  # flip bytes
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif how == 1:  # cut short
            b = b[:rng.randrange(1, len(b))]
        elif how == 2:  # random binary
            b = bytearray(rng.randbytes(rng.randint(1, 40)))
        elif how == 3:  # wrong types
            b = bytearray(b.replace(b'"1250"', b"12.5").replace(b'"96"', b"[96]")
                          .replace(b'"1"', b"true"))
        elif how == 4:  # deep nesting
            depth = rng.randint(17, 60)
            b = bytearray(b"[" * depth + b"]" * depth)
        elif how == 5:  # drop a quote
            i = b.find(b'"', rng.randrange(len(b)))
            if i >= 0:
                del b[i]
        elif how == 6:  # stray control bytes
            b.insert(rng.randrange(len(b)), rng.choice([0x02, 0x03, 0x00]))
        else:  # unknown TRAN_MODE
            b = bytearray(b'{"TRAN_MODE":"%d"}' % rng.choice([7, 42, 100, 999]))
        raw = bytes(b)
        if text:  # a WebSocket text message can only carry valid UTF-8
            raw = raw.decode("utf-8", "replace").encode("utf-8")
        if _is_request(raw) or not raw.strip(b" \t\r\n"):
            continue  # a request after all, or whitespace (a keep-alive, not input)
        out.append(raw)
    return out


def _is_request(raw: bytes) -> bool:
    dec = JsonStreamDecoder()
    items = dec.feed(raw) + dec.feed(b"\n")
    return any(isinstance(i, Frame) and isinstance(d.parse(i.payload), (d.Request, d.Echo))
               for i in items)


@pytest.mark.parametrize("framing", ["ws", "bare", "newline", "stx", "usb"])
@case("valor/A.7/6", title="10,000 malformed inputs per framing: each gets STATE -1 or a "
      "clean close, and the terminal still serves", section="A.7",
      failure="malformed input goes unanswered, is answered as a success, or leaves the "
      "terminal unable to serve")
def test_malformed_inputs(valor: Any, framing: str) -> None:
    if not valor.reference:
        pytest.skip("ten thousand inputs are for the reference's virtual clock")
    # served on real sockets each input waits out the partial-frame timeout on the wall
    # clock, so a sample of the same inputs runs there (the soak sends ten thousand
    # over real sockets: python -m conformance.soak valor)
    count = 10_000 if valor.kind == "virtual" else 100
    inputs = malformed_inputs(count, seed=valor.world.seed + len(framing),
                              text=framing == "ws")
    # USB: the marker framing on an unpaced line (pacing is A.3/6's; paced, every byte
    # of ten thousand inputs would be a transcript entry of its own)
    baud = 0 if framing == "usb" else None
    pos = valor.pos(baud=baud)
    fresh = [pos]

    def script():  # type: ignore[no-untyped-def]
        unanswered = []
        p = pos
        for raw in inputs:
            if p.closed:
                p = yield from valor.pos_in_run(baud=baud)
                fresh.append(p)
            n = len(p.received)
            p.send_raw(raw)
            # every answer to this input: until the line has been quiet for a while (a
            # partial object is given up after the partial-frame timeout)
            quiet = valor.terminal.t["partial_frame_timeout"] + 1.0
            first = yield from p.wait_frame(n, quiet)  # (+ the POS's transit allowance)
            seen = -1
            while first is not None and seen != len(p.received) and not p.closed:
                seen = len(p.received)
                yield valor.world.timeout(2.0)
            answers = p.received[n:]
            if not p.closed and not any(f.get("STATE") == "-1" for f in answers):
                unanswered.append(raw)
            elif any(f.get("STATE") == "0" and f.get("MSG") != "ACK" for f in answers):
                unanswered.append(raw)  # answered as a success
        last = yield from valor.pos_in_run(baud=baud)
        res = yield from exchange(last, sale(1250))
        return unanswered, res

    unanswered, res = valor.run(script)
    assert not unanswered, f"{len(unanswered)} unanswered, e.g. {unanswered[:3]}"
    assert final_of(res)["STATE"] == "0"
    check_invariants(valor)


@case("valor/A.8/1", title="cloud profile: REQ_TXN_ID required, AMOUNT \"0\" void refused",
      section="A.8", failure="the cloud profile accepts a request without REQ_TXN_ID")
def test_cloud_profile(valor_cloud: Any) -> None:
    pos = valor_cloud.pos()
    error_of(valor_cloud.run(exchange, pos, sale(1250)), "REQUEST TXN ID REQUIRED")
    error_of(valor_cloud.run(exchange, pos, fetch("9")), "REQUEST TXN ID REQUIRED")
    res = valor_cloud.run(exchange, pos, sale(1250, REQ_TXN_ID="C-1"))
    tran_no = final_of(res)["TRAN_NO"]
    error_of(valor_cloud.run(exchange, pos, fetch("2", TRAN_NO=tran_no, AMOUNT="0",
                                                  REQ_TXN_ID="C-2")), "Invalid Amount")
    check_invariants(valor_cloud)
