"""semi-and-websockets.md §B.7: the minimal faithful message set, and the names that are ours."""

from __future__ import annotations

from typing import Any

from conformance import case
from protocol_servers.gochip.agent import OUR_NAMES
from protocol_servers.gochip.card_reader import OURS

B7_REQUESTS = ("REQ_WS_INIT", "REQ_INIT_WITH_CONFIGURATION", "REQ_SET_API_KEY",
               "REQ_LIST_SUPPORTED_DEVICES", "REQ_INIT_DEVICE", "REQ_PROCESS_SALE",
               "REQ_PROCESS_REFUND", "REQ_PROCESS_UNREFERENCED_REFUND",
               "REQ_CANCEL_TRANSACTION", "REQ_SUBMIT_APPLICATION", "REQ_SUBMIT_SIGNATURE",
               "REQ_SUBMIT_AMOUNT", "REQ_GET_TRANSACTIONS", "REQ_CLOSE_TRANSACTIONS_BATCH",
               "REQ_GET_DEVICE_INFO", "REQ_DISCONNECT_DEVICE")


@case("gochip/B.7/1", title="every request of the minimal set is known: none is answered as "
      "an unknown type", failure="the agent does not know a request of §B.7")
def test_minimal_set_known(gochip: Any, verdict: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        out = {}
        for kind in B7_REQUESTS[1:]:
            c.mark_seen()
            # an empty body: a known request is refused for its fields or its turn,
            # an unknown one as unknown
            out[kind] = yield from c.request(kind, {}, "RES_ON_NEVER", 30.0)
        return out

    answers = gochip.run(script)
    unknown = [k for k, m in answers.items()
               if m is not None and "unknown" in str(m.get("description", "")).lower()]
    assert not unknown, f"answered as unknown: {unknown}"
    verdict.informational("names this reference invented (not in the public material): "
                          f"responses {', '.join(OUR_NAMES)}; RES_ON_MESSAGE values "
                          f"{', '.join(sorted(OURS))}")


# every request §B.5 names beyond the minimal set (the reversal name is the note's inference)
B5_REQUESTS = ("REQ_PROCESS_REVERSAL", "REQ_SET_POLLING_ENABLED", "REQ_GET_POLLING_ENABLED",
               "REQ_SET_DELAYED_AUTH_ENABLED", "REQ_GET_DELAYED_AUTH_ENABLED",
               "REQ_SET_OFFLINE_MODE_ENABLED", "REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED",
               "REQ_REGISTER_SECURE_TOKEN", "REQ_UPDATE_SECURE_TOKEN", "REQ_DELETE_SECURE_TOKEN",
               "REQ_RETRIEVE_SECURE_TOKEN", "REQ_RETRIEVE_SECURE_TOKEN_HISTORY",
               "REQ_WS_RESTART", "REQ_SET_MODE", "REQ_SET_LOG_LEVEL", "REQ_RETRIEVE_SETTINGS",
               "REQ_GET_CALCULATED_AMOUNT", "REQ_DEVICE_PASSTHRU", "REQ_SET_INTEGRATION_ID")


@case("gochip/B.7/2", title="every other request §B.5 names is served: none is answered as "
      "unknown or not offered", failure="the agent does not know a request of §B.5")
def test_b5_requests_known(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        out = {}
        for kind in B5_REQUESTS:
            if kind == "REQ_WS_RESTART":
                continue  # it would end the set-up the other requests need
            c.mark_seen()
            out[kind] = yield from c.request(kind, {}, "RES_ON_NEVER", 30.0)
        return out

    answers = gochip.run(script)
    assert set(answers) == set(B5_REQUESTS) - {"REQ_WS_RESTART"}
    unknown = [k for k, m in answers.items() if m is not None and any(
        w in str(m.get("description", "")).lower() for w in ("unknown", "not offered"))]
    assert not unknown, f"answered as unknown or not offered: {unknown}"
