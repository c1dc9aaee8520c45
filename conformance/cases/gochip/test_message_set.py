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
