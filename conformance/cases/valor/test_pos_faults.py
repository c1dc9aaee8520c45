"""semi-and-websockets.md §A.9: each fault knob, and what a POS must do about it (§A.7).

Faults are armed by their id in the fault catalogue (``conformance/faults_catalogue.toml``,
``*.terminal_*`` entries), the same knobs the control API's ``valor-fault`` action sets.

The POS here is the reference POS written from the note (``protocol_servers.valor.pos``);
the grading functions (``protocol_servers.valor.conduct``) read only the terminal's side,
so the same checks grade a vendor's POS served with ``--serve valor``.
``tests/valor/test_grading.py`` shows them failing a careless POS.
"""

from __future__ import annotations

from typing import Any

from conformance import case
from protocol_servers.valor.conduct import (
    ignored_foreign_finals,
    recovered_by_stan,
    sent_trailing_acks,
    waited_for_ack,
)

from .steps import check_invariants, exchange, final_of, sale


@case("valor/A.9/1", title="no ACK: the POS takes the request as never landed and books "
      "nothing", section="A.9", failure="the POS retries inside the ACK window, or books a "
      "request the terminal never ACKed")
def test_no_ack(valor: Any) -> None:
    valor.arm("transport.terminal_no_ack")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        res = yield from pos.transact(sale(1250, REQ_TXN_ID="NA-1"))
        assert res.outcome == "no_ack", res.outcome
        again = yield from pos.transact(sale(1250, REQ_TXN_ID="NA-2"))
        return again

    again = valor.run(script)
    assert final_of(again)["STATE"] == "0"
    assert not waited_for_ack(valor.terminal)
    assert len([e for e in valor.terminal.acquirer.ledger.entries if e.kind == "sale"]) == 1
    check_invariants(valor)


@case("valor/A.9/2", title="drop after the STAN frame: the POS recovers by STAN, never by a "
      "blind retry", section="A.9", failure="the POS resends the sale after a lost socket "
      "instead of asking TRAN_MODE 90")
def test_drop_after_stan(valor: Any) -> None:
    valor.arm("transport.terminal_drop_after_stan")
    pos = valor.pos()
    request = sale(1250, REQ_TXN_ID="DR-1")

    def script():  # type: ignore[no-untyped-def]
        res = yield from pos.transact(request)
        final = yield from pos.recover(valor.connector(), res.stan, request)
        return res.stan, final

    stan, final = valor.run(script)
    assert final is not None and final["STATE"] == "0"
    assert not recovered_by_stan(valor.terminal, stan)
    check_invariants(valor)


@case("valor/A.9/3", title="final STATE -2: the POS asks for the outcome", section="A.9",
      failure="the POS treats an indeterminate final as a decline or an approval")
def test_final_indeterminate(valor: Any) -> None:
    valor.arm("protocol.terminal_final_indeterminate")
    pos = valor.pos()
    request = sale(1250, REQ_TXN_ID="IN-1")

    def script():  # type: ignore[no-untyped-def]
        res = yield from pos.transact(request)
        assert final_of(res)["STATE"] == "-2"
        final = yield from pos.recover(valor.connector(), res.stan, request)
        return res.stan, final

    stan, final = valor.run(script)
    assert final is not None and final["STATE"] == "0"
    assert not recovered_by_stan(valor.terminal, stan)
    check_invariants(valor)


@case("valor/A.9/4", title="slow final: the POS waits inside its sale timeout", section="A.9",
      failure="the POS gives up on a final that comes within the 90-120 s sale timeout")
def test_slow_final(valor: Any) -> None:
    valor.arm("transport.terminal_slow_final")
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250, REQ_TXN_ID="SL-1"), 120.0)
    assert final_of(res)["STATE"] == "0"
    check_invariants(valor)


@case("valor/A.9/5", title="a stray final with a foreign reference is dropped", section="A.9",
      failure="the POS takes a final frame whose MER_TXN_ID is not its own")
def test_foreign_final(valor: Any) -> None:
    valor.arm("protocol.terminal_foreign_final")
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250, REQ_TXN_ID="FF-1"))
    assert final_of(res)["MER_TXN_ID"] == "FF-1"
    assert pos.dropped_foreign == 1
    valor.settle(1.0)
    assert not ignored_foreign_finals(valor.terminal)
    check_invariants(valor)


@case("valor/A.9/6", title="the POS sends the trailing ACK after every final", section="A.9",
      failure="the POS never ACKs the final frame")
def test_trailing_ack_graded(valor: Any) -> None:
    valor.need_reference("grading reads the reference's sessions")
    pos = valor.pos()

    def script():  # type: ignore[no-untyped-def]
        for amount in (1000, 1100):
            yield from exchange(pos, sale(amount))

    valor.run(script)
    valor.settle(1.0)
    assert not sent_trailing_acks(valor.terminal)
    check_invariants(valor)


@case("valor/A.9/7", title="ping with data and cancel answered with STATE -2 only are both "
      "understood", section="A.9", failure="the POS mistakes a ping's data frame, or a "
      "STATE -2 cancel reply, for something else")
def test_ping_data_cancel_state(valor: Any) -> None:
    valor.arm("protocol.terminal_ping_with_data")
    valor.arm("cancel_state_only")
    valor.arm("protocol.terminal_cancel_before_card")
    pos = valor.pos()
    canceller = valor.pos(cancel_port=True)

    def script():  # type: ignore[no-untyped-def]
        ack = yield from pos.ping()
        yield valor.world.timeout(0.5)
        proc = valor.world.process(pos.transact(sale(1250, REQ_TXN_ID="CS-1")))
        yield valor.world.timeout(3.0)
        canceller.send({"TRAN_MODE": "99", "REQ_TXN_ID": "CS-1"})
        reply = yield from canceller.wait_frame(0, 10.0)
        res = yield proc
        return ack, reply, res

    ack, reply, res = valor.run(script)
    assert ack == {"STATE": "0", "MSG": "ACK"}
    assert pos.received[1].get("SERIAL_NO"), "no data frame after the ping's ACK"
    assert reply == {"STATE": "-2", **valor.terminal.identity, "MER_TXN_ID": "CS-1"}
    assert final_of(res)["STATE"] == "-1"
    check_invariants(valor)


@case("valor/A.9/8", title="bare replies to a framed client (what real VP terminals do)",
      section="A.9", failure="a POS that sends STX/ETX cannot read bare replies")
def test_bare_replies(valor: Any) -> None:
    valor.arm("protocol.terminal_bare_replies")
    pos = valor.pos()
    res = valor.run(exchange, pos, sale(1250))
    assert final_of(res)["STATE"] == "0"
    check_invariants(valor)
