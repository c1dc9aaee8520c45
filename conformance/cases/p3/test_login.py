"""payworks-p3.md §4.3: a server configured with its merchants' credentials checks them
outside MOCK mode (bad credentials: SERVER_AUTHENTICATION_FAILED) and accepts anything in
MOCK mode; a refused login leaves the connection logged out."""

from __future__ import annotations

import dataclasses
from typing import Any

from conformance import case

MERCHANT, SECRET = "merchant-1", "secret-1"


@case("p3/4.3/2", title="with configured merchants, a TEST login is checked: the right secret "
      "logs in, a wrong secret or an unknown merchant is SERVER_AUTHENTICATION_FAILED and "
      "does not log in; MOCK mode accepts any credentials", section="4.3",
      failure="wrong credentials log in, right ones are refused, or MOCK logins are checked")
def test_login_credentials(p3: Any) -> None:
    p3.need_reference("the server is configured with a merchant's credentials")
    p3.server.config = dataclasses.replace(p3.server.config, merchants={MERCHANT: SECRET})
    c = p3.client()

    def script():  # type: ignore[no-untyped-def]
        out = {}
        out["wrong"] = yield from c.login("TEST", MERCHANT, "not-" + SECRET)
        out["unknown"] = yield from c.login("LIVE", "merchant-2", SECRET)
        # nobody logged in yet: a transaction is refused
        out["refused"] = yield from c.final(c.execute(p3.resource, amount="5.00"))
        out["right"] = yield from c.login("TEST", MERCHANT, SECRET)
        out["mock"] = yield from c.login("MOCK", "anyone", "anything")
        return out

    out = p3.run(script)
    for key in ("wrong", "unknown"):
        resp = out[key]
        assert resp["status"] == "ERROR", (key, resp)
        assert resp["error"]["type"] == "SERVER_AUTHENTICATION_FAILED", (key, resp["error"])
    assert out["refused"]["status"] == "ERROR", "a refused login let a transaction run"
    for key in ("right", "mock"):
        resp = out[key]
        assert resp["status"] == "OK", (key, resp.get("error"))
        assert resp["loginMerchantResponse"]["devices"], key
