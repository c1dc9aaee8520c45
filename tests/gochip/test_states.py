"""The connection state table: what each state accepts and where events lead."""

from __future__ import annotations

import pytest

from protocol_servers.gochip.agent import HANDLERS
from protocol_servers.gochip.states import (
    ACCEPTS,
    ConnectionState,
    IllegalTransition,
    State,
)


def test_every_accepted_request_has_a_handler() -> None:
    for state, kinds in ACCEPTS.items():
        assert kinds <= set(HANDLERS), (state, sorted(kinds - set(HANDLERS)))


def test_every_handler_is_reachable() -> None:
    reachable = set().union(*ACCEPTS.values())
    assert set(HANDLERS) <= reachable, sorted(set(HANDLERS) - reachable)


def test_set_up_walk() -> None:
    s = ConnectionState()
    assert s.refusal("REQ_PROCESS_SALE")[1] == "WS_NOT_INITIALISED"  # type: ignore[index]
    s.fire("REQ_WS_INIT")
    assert s.refusal("REQ_INIT_DEVICE")[1] == "SDK_NOT_INITIALISED"  # type: ignore[index]
    s.fire("SETTINGS_RETRIEVED")
    assert s.refusal("REQ_PROCESS_SALE")[1] == "DEVICE_NOT_CONNECTED"  # type: ignore[index]
    s.fire("DEVICE_CONNECTED")
    assert s.refusal("REQ_PROCESS_SALE") is None
    s.fire("TRANSACTION_STARTED")
    assert s.refusal("REQ_PROCESS_SALE")[1] == "TRANSACTION_IN_PROGRESS"  # type: ignore[index]
    assert s.refusal("REQ_SUBMIT_SIGNATURE") is None
    s.fire("TRANSACTION_ENDED")
    assert s.state is State.DEVICE_READY


def test_prompt_answers_only_while_transacting() -> None:
    s = ConnectionState()
    for event in ("REQ_WS_INIT", "SETTINGS_RETRIEVED", "DEVICE_CONNECTED"):
        s.fire(event)
    assert s.refusal("REQ_SUBMIT_APPLICATION")[1] == "NO_TRANSACTION_IN_PROGRESS"  # type: ignore[index]


def test_illegal_event() -> None:
    with pytest.raises(IllegalTransition):
        ConnectionState().fire("DEVICE_CONNECTED")
