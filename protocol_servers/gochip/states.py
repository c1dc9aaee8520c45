"""The connection's states and what each accepts, as tables (after h11's ``_state.py``).

A connection walks §B.4: the service asks for ``REQ_WS_INIT`` on connect, then the
SDK is configured (``REQ_INIT_WITH_CONFIGURATION``), then a device is connected
(``REQ_INIT_DEVICE``); a transaction runs on a connected device. :data:`ACCEPTS` says
which requests each state takes; anything else is out of order and gets the error
frame of :data:`REFUSAL`. :data:`TRANSITIONS` moves the state on events (a request
that succeeded, or something the agent did).
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    WS_INIT_REQUIRED = "WS_INIT_REQUIRED"
    WS_READY = "WS_READY"  # websocket initialised, SDK not configured
    CONFIGURED = "CONFIGURED"  # settings retrieved, no device
    DEVICE_READY = "DEVICE_READY"
    TRANSACTING = "TRANSACTING"  # a sale or card refund is running


S = State

# requests a state takes that need neither a device nor an idle one
_ANY = frozenset({"REQ_WS_INIT"})
_SDK = _ANY | {"REQ_SET_API_KEY", "REQ_SET_INTEGRATION_ID", "REQ_INIT_WITH_CONFIGURATION",
               "REQ_LIST_SUPPORTED_DEVICES", "REQ_SET_MODE", "REQ_SET_LOG_LEVEL",
               "REQ_WS_RESTART"}
_CONFIGURED = _SDK | {
    "REQ_GET_CALCULATED_AMOUNT", "REQ_GET_TRANSACTIONS", "REQ_CANCEL_TRANSACTION",
    "REQ_SET_POLLING_ENABLED", "REQ_GET_POLLING_ENABLED", "REQ_SET_DELAYED_AUTH_ENABLED",
    "REQ_GET_DELAYED_AUTH_ENABLED", "REQ_RETRIEVE_SETTINGS",
    "REQ_DELETE_SECURE_TOKEN", "REQ_RETRIEVE_SECURE_TOKEN", "REQ_RETRIEVE_SECURE_TOKEN_HISTORY",
    "REQ_SET_OFFLINE_MODE_ENABLED", "REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED",
}
_IDLE = frozenset({"REQ_PROCESS_REFUND", "REQ_PROCESS_UNREFERENCED_REFUND",
                   "REQ_CLOSE_TRANSACTIONS_BATCH", "REQ_PROCESS_REVERSAL"})
_PROMPT_ANSWERS = frozenset({"REQ_SUBMIT_APPLICATION", "REQ_SUBMIT_SIGNATURE",
                             "REQ_SUBMIT_AMOUNT"})

ACCEPTS: dict[State, frozenset[str]] = {
    S.WS_INIT_REQUIRED: _ANY,
    S.WS_READY: _SDK,
    S.CONFIGURED: _CONFIGURED | _IDLE | {"REQ_INIT_DEVICE"},
    S.DEVICE_READY: _CONFIGURED | _IDLE | {
        "REQ_INIT_DEVICE", "REQ_PROCESS_SALE", "REQ_GET_DEVICE_INFO", "REQ_DISCONNECT_DEVICE",
        "REQ_REGISTER_SECURE_TOKEN", "REQ_UPDATE_SECURE_TOKEN", "REQ_DEVICE_PASSTHRU"},
    # one transaction at a time per connection (§B.3): while it runs, only the
    # prompts' answers, a cancel and the read-only requests
    S.TRANSACTING: (_CONFIGURED - {"REQ_INIT_WITH_CONFIGURATION", "REQ_SET_POLLING_ENABLED",
                                   "REQ_SET_DELAYED_AUTH_ENABLED", "REQ_WS_INIT",
                                   "REQ_WS_RESTART"})
    | _PROMPT_ANSWERS,
}

# (state, event) -> next state; events are successful requests or the agent's own
TRANSITIONS: dict[tuple[State, str], State] = {
    (S.WS_INIT_REQUIRED, "REQ_WS_INIT"): S.WS_READY,
    (S.WS_READY, "SETTINGS_RETRIEVED"): S.CONFIGURED,
    (S.CONFIGURED, "SETTINGS_RETRIEVED"): S.CONFIGURED,
    (S.DEVICE_READY, "SETTINGS_RETRIEVED"): S.DEVICE_READY,
    (S.CONFIGURED, "DEVICE_CONNECTED"): S.DEVICE_READY,
    (S.DEVICE_READY, "DEVICE_CONNECTED"): S.DEVICE_READY,
    (S.DEVICE_READY, "DEVICE_DISCONNECTED"): S.CONFIGURED,
    (S.CONFIGURED, "DEVICE_DISCONNECTED"): S.CONFIGURED,
    (S.DEVICE_READY, "TRANSACTION_STARTED"): S.TRANSACTING,
    (S.CONFIGURED, "TRANSACTION_STARTED"): S.TRANSACTING,  # keyed refunds need no device
    (S.TRANSACTING, "TRANSACTION_ENDED"): S.DEVICE_READY,
    (S.TRANSACTING, "TRANSACTION_ENDED_NO_DEVICE"): S.CONFIGURED,
    (S.TRANSACTING, "DEVICE_LOST"): S.CONFIGURED,
    (S.DEVICE_READY, "DEVICE_LOST"): S.CONFIGURED,
    (S.CONFIGURED, "DEVICE_LOST"): S.CONFIGURED,
    (S.WS_READY, "WS_RESTARTED"): S.WS_INIT_REQUIRED,
    (S.CONFIGURED, "WS_RESTARTED"): S.WS_INIT_REQUIRED,
    (S.DEVICE_READY, "WS_RESTARTED"): S.WS_INIT_REQUIRED,
}

# what a refused request gets in each state: (error frame type, our error code, why)
REFUSAL: dict[State, tuple[str, str, str]] = {
    S.WS_INIT_REQUIRED: ("RES_ON_WS_ERROR", "WS_NOT_INITIALISED",
                         "the service is not initialised: send REQ_WS_INIT first"),
    S.WS_READY: ("RES_ON_ERROR", "SDK_NOT_INITIALISED",
                 "the SDK is not configured: send REQ_INIT_WITH_CONFIGURATION first"),
    S.CONFIGURED: ("RES_ON_ERROR", "DEVICE_NOT_CONNECTED",
                   "no device is connected: send REQ_INIT_DEVICE first"),
    S.DEVICE_READY: ("RES_ON_ERROR", "NO_TRANSACTION_IN_PROGRESS",
                     "no transaction is waiting for that answer"),
    S.TRANSACTING: ("RES_ON_ERROR", "TRANSACTION_IN_PROGRESS",
                    "a transaction is in progress on this connection"),
}


class IllegalTransition(RuntimeError):
    pass


class ConnectionState:
    """One connection's state; ``refusal(type)`` says why a request is out of order."""

    def __init__(self) -> None:
        self.state = S.WS_INIT_REQUIRED
        self.history: list[tuple[State, str, State]] = []

    def refusal(self, kind: str) -> tuple[str, str, str] | None:
        if kind in ACCEPTS[self.state]:
            return None
        frame, code, why = REFUSAL[self.state]
        if self.state is S.CONFIGURED and kind in _PROMPT_ANSWERS:
            frame, code, why = REFUSAL[S.DEVICE_READY]
        return frame, code, why

    def fire(self, event: str) -> State:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            if event == "REQ_WS_INIT":  # a second init keeps the state it finds
                return self.state
            raise IllegalTransition(f"{event} in state {self.state.value}")
        self.history.append((self.state, event, nxt))
        self.state = nxt
        return nxt
