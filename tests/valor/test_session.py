"""The connection state table and the classification of what a POS sends."""

from __future__ import annotations

from protocol_servers.valor import dictionary as d
from protocol_servers.valor.session import (
    TRANSITIONS,
    Dispatch,
    Event,
    Reply,
    Session,
    State,
)
from protocol_servers.valor.wire import Frame, Junk

ID = {"EPI": "2000000001", "SERIAL_NO": "1"}


def test_table_is_complete() -> None:
    missing = [(s, e) for s in State for e in Event if (s, e) not in TRANSITIONS]
    assert not missing
    assert all(TRANSITIONS[(State.CLOSED, e)] is State.CLOSED for e in Event)


def test_exchange_states_and_trailing_ack() -> None:
    s = Session(ID)
    (act,) = s.receive(Frame(b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"5"}', "stx"))
    assert isinstance(act, Dispatch) and act.style == "stx" and s.state is State.WORKING
    s.final_sent()
    assert s.state is State.AWAITING_ACK
    assert s.receive(Frame(b'{"STATE":"0","MSG":"ACK"}', "stx")) == []
    assert s.state is State.IDLE and s.trailing_acks == 1


def test_missing_and_early_acks_are_counted() -> None:
    s = Session(ID)
    req = Frame(b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"5"}', "bare")
    s.receive(req)
    s.receive(Frame(b'{"STATE":"0","MSG":"ACK"}', "bare"))  # while working
    s.final_sent()
    s.receive(req)  # no trailing ACK before the next request
    assert (s.early_acks, s.missing_acks) == (1, 1)


def test_not_requests_get_state_minus_one() -> None:
    s = Session(ID)
    for raw in (b"[]", b"{}", b'{"TRAN_MODE":"42"}', b'{"TRAN_MODE":1.5}'):
        (act,) = s.receive(Frame(raw, "newline"))
        assert isinstance(act, Reply) and act.frame["STATE"] == "-1" and act.style == "newline"
    (act,) = s.receive(Junk("junk"), "bare")
    assert isinstance(act, Reply) and act.frame["ERROR_MSG"] == d.NOT_A_REQUEST
    assert s.bad_inputs == 5


def test_cancel_port_takes_only_cancel_and_ping() -> None:
    s = Session(ID, cancel_port=True)
    (act,) = s.receive(Frame(b'{"TRAN_MODE":"1","TRAN_CODE":"1","AMOUNT":"5"}', "bare"))
    assert isinstance(act, Reply) and act.frame["ERROR_MSG"] == d.CANCEL_PORT_ONLY
    (act,) = s.receive(Frame(b'{"TRAN_MODE":"99"}', "bare"))
    assert isinstance(act, Dispatch)


def test_values_are_strings_numbers_forgiven() -> None:
    req = d.parse(b'{"TRAN_MODE":"1","TRAN_CODE":1,"AMOUNT":100,"ITEMS":[1]}')
    assert isinstance(req, d.Request) and req.get("AMOUNT") == "100" and "ITEMS" not in req.fields
    assert d.cents("10.00") is None and d.cents("0") == 0


def test_catalogue_terminal_faults_are_knobs() -> None:
    from conformance.faults import load_catalogue
    from protocol_servers.valor.terminal import KNOBS

    ours = [s for s in load_catalogue().values() if s.name.startswith("terminal_")]
    assert len(ours) >= 9
    assert {s.action for s in ours} <= set(KNOBS)


def test_deep_nesting_over_websocket_is_refused_with_state_minus_one() -> None:
    """A WebSocket message skips the stream decoder's depth count: ten thousand nested
    arrays must still be refused (STATE -1), not take the parser to the recursion limit."""
    s = Session(ID)
    for payload in (b"[" * 10_000 + b"]" * 10_000,
                    b'{"TRAN_MODE":"96","X":' + b"[" * 10_000 + b"]" * 10_000 + b"}"):
        (act,) = s.receive(Frame(payload, "ws"))
        assert isinstance(act, Reply) and act.frame["STATE"] == "-1"
