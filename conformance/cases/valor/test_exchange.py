"""semi-and-websockets.md §A.4: ACK, STAN frame, final, trailing ACK, recovery, ping, cancel."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from protocol_servers.valor.dictionary import ACK_TIMEOUT

from .steps import check_invariants, error_of, exchange, final_of, sale

ACK = {"STATE": "0", "MSG": "ACK"}


@case("valor/A.4/1", title="the request is ACKed within 5 s", section="A.4",
      failure="no ACK within 5 s: a POS following the note gives the request up as never landed")
def test_ack_within_5s(valor: Any) -> None:
    pos = valor.pos()

    res = valor.run(exchange, pos, sale(1250))
    assert res.frames and res.frames[0] == ACK, res.frames[:1]
    # on the world's clock; a realtime world also lets the sockets' wall time pass (the
    # POS's transit allowance), which is not the terminal's
    assert res.ack_after is not None and res.ack_after <= ACK_TIMEOUT + pos.transit, \
        res.ack_after
    assert res.outcome == "final"
    check_invariants(valor)


@case("valor/A.4/2", title="'Payload Request Received' carries the STAN before the final frame",
      section="A.4", failure="the STAN frame is missing or comes after the final frame; a POS "
      "that loses the socket cannot recover the outcome")
def test_stan_frame_first(valor: Any) -> None:
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250))
    msgs = [f.get("MSG", "final") for f in res.frames]
    assert msgs[:2] == ["ACK", "Payload Request Received"], msgs
    assert res.stan.isdigit()
    assert final_of(res).get("STAN_NO", res.stan) == res.stan
    check_invariants(valor)


@case("valor/A.4/3", title="the trailing ACK is taken, and the next request is served",
      section="A.4", failure="the POS's trailing ACK is answered as an error or blocks the next "
      "request")
def test_trailing_ack(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        first = yield from pos.transact(sale(1250))
        n = len(pos.received)
        yield valor.world.timeout(1.0)
        extra = pos.received[n:]  # nothing may answer the trailing ACK
        second = yield from pos.transact(sale(1300))
        return first, extra, second

    first, extra, second = valor.run(script)
    assert final_of(first)["STATE"] == "0" and final_of(second)["STATE"] == "0"
    assert extra == [], f"the trailing ACK was answered: {extra}"
    if valor.reference:
        link = valor.terminal.links[0]
        assert link.session.trailing_acks >= 1
    check_invariants(valor)


@case("valor/A.4/4", title="after the socket is cut past the STAN frame, TRAN_MODE 90 with "
      "the STAN tells the outcome, and nothing is charged twice", section="A.4",
      failure="the outcome of a sale whose socket was lost cannot be recovered by STAN, or "
      "the recovery charges again")
def test_recover_by_stan(valor: Any) -> None:
    valor.arm("drop_after_stan")
    pos = valor.pos()
    request = sale(1250, REQ_TXN_ID="REC-1")

    def script():  # type: ignore[no-untyped-def]
        res = yield from pos.transact(request)
        assert res.outcome == "lost" and res.stan, (res.outcome, res.frames)
        final = yield from pos.recover(valor.connector(), res.stan, request)
        return final

    final = valor.run(script)
    assert final is not None and final["STATE"] == "0", final
    entries = [e for e in valor.terminal.acquirer.ledger.entries if e.kind == "sale"]
    assert len(entries) == 1, "the sale was charged more than once"
    check_invariants(valor)


@case("valor/A.4/5", title="the 96 health ping is answered with the ACK frame only",
      section="A.4", failure="a ping gets more than the ACK (real VP terminals answer ACK only)")
def test_ping_ack_only(valor: Any) -> None:
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        frame = yield from pos.ping()
        yield valor.world.timeout(1.0)
        return frame

    assert valor.run(script) == ACK
    assert len(pos.received) == 1, pos.received


@case("valor/A.4/6", title="a cancel on 5001 before the card is read clears the sale",
      section="A.4", failure="TRAN_MODE 99 before the card does not clear the sale, or the "
      "reply has neither 'TRANSACTION CLEARED SUCCESSFULLY' nor STATE -2")
def test_cancel_before_card(valor: Any) -> None:
    valor.arm("hold_card")
    pos = valor.pos()
    canceller = valor.pos(cancel_port=True)
    request = sale(1250, REQ_TXN_ID="CXL-1")

    def script():  # type: ignore[no-untyped-def]
        proc = valor.world.process(pos.transact(request))
        yield valor.world.timeout(3.0)
        canceller.send({"TRAN_MODE": "99", "REQ_TXN_ID": "CXL-1"})
        reply = yield from canceller.wait_frame(0, 10.0)
        res = yield proc
        return reply, res

    reply, res = valor.run(script)
    assert reply is not None
    assert "TRANSACTION CLEARED SUCCESSFULLY" in reply.get("ERROR_MSG", "") or \
        reply.get("STATE") == "-2", reply
    error_of(res, "Transaction Timeout/Cancelled")
    assert not [e for e in valor.terminal.acquirer.ledger.entries if e.kind == "sale"]
    check_invariants(valor)


@case("valor/A.4/7", title="a cancel after the card is read changes nothing", section="A.4",
      failure="a cancel after the card was read stops a sale the card already authorised")
def test_cancel_after_card(valor: Any) -> None:
    if not valor.reference:
        pytest.skip("timing the card read needs the reference terminal")
    pos = valor.pos()
    canceller = valor.pos(cancel_port=True)

    def script():  # type: ignore[no-untyped-def]
        proc = valor.world.process(pos.transact(sale(1250, REQ_TXN_ID="CXL-2")))
        while not valor.terminal.card.card_read:
            yield valor.world.timeout(0.1)
        canceller.send({"TRAN_MODE": "99", "REQ_TXN_ID": "CXL-2"})
        reply = yield from canceller.wait_frame(0, 10.0)
        res = yield proc
        return reply, res

    reply, res = valor.run(script)
    assert reply is not None and reply["STATE"] == "-1", reply
    assert "CLEARED" not in reply.get("ERROR_MSG", "")
    assert final_of(res)["STATE"] == "0"
    check_invariants(valor)


@case("valor/A.4/8", title="a status query for an unknown STAN is 'No Record Found!'",
      section="A.4", failure="TRAN_MODE 90 with a STAN the terminal never gave is not refused")
def test_status_unknown(valor: Any) -> None:
    pos = valor.pos()
    frame = valor.run(pos.status, "999999")
    assert frame is not None and frame["STATE"] == "-1"
    assert frame["ERROR_MSG"] == "No Record Found!"
