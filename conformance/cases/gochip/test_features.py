"""semi-and-websockets.md §B.5 beyond the minimal set: reversals (and the 1.6 refund that
becomes one), secure tokens, offline mode, the terminal health listener, device
passthrough and the admin requests; §B.6 for the offline answer to a silent gateway."""

from __future__ import annotations

from typing import Any

import pytest

from conformance import case
from simulator.masking import luhn_ok

from .steps import check_invariants, error_of, sale_of


def configure_16(c: Any, **device: Any) -> Any:
    """The 1.6 set-up: REQ_SET_API_KEY, then configuration by terminalId alone."""
    yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
    yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
    yield from c.request("REQ_SET_API_KEY", {"key": "K" * 128}, "RES_ON_SET_API_KEY")
    yield from c.request("REQ_INIT_WITH_CONFIGURATION", {"terminalId": "2997001"},
                         "RES_ON_SETTINGS_RETRIEVED")
    got = yield from c.request("REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                                   "inputMethod": "INSERT", **device},
                               "RES_ON_DEVICE_CONNECTED")
    assert got is not None and got["type"] == "RES_ON_DEVICE_CONNECTED", got


def settle(c: Any, seconds: float = 40.0) -> Any:
    """Let the removal prompt and anything still running end."""
    yield from c.wait_for("NEVER", seconds)


@case("gochip/B.5/13", title="REQ_PROCESS_REVERSAL of an unsettled sale answers "
      "RES_ON_REVERSAL_RETRIEVED with the sale's details and its final amount 0; the "
      "gateway holds nothing", failure="a reversal leaves the sale charged or answers "
      "another shape")
def test_reversal(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        sale = sale_of((yield from c.sale("12.50")))
        yield from settle(c)
        got = yield from c.request("REQ_PROCESS_REVERSAL", {"uniqueRef": sale["uniqueRef"],
                                                            "reason": "customer changed mind"},
                                   "RES_ON_REVERSAL_RETRIEVED")
        listing = yield from c.request("REQ_GET_TRANSACTIONS", {},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        batch = yield from c.request("REQ_CLOSE_TRANSACTIONS_BATCH", {},
                                     "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE")
        return sale, got, listing, batch

    sale, got, listing, batch = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_REVERSAL_RETRIEVED", got
    body = got["data"]["saleResponse"]
    assert body["uniqueRef"] == sale["uniqueRef"] and body["code"] == "A", body
    assert str(body["authorizedAmount"]) == "0", body
    assert body["cardNumber"] == sale["cardNumber"], body
    row = next(t for t in listing["data"]["transactions"] if t["uniqueRef"] == sale["uniqueRef"])
    assert row["transactionStatus"] == "REVERSED", row
    assert batch["data"]["batch"]["saleCount"] == 0, batch
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.5/14", title="a reversal that cannot be done is refused with its reason and "
      "messageTypeSource: twice, a part of the amount, a settled sale, an unknown sale",
      failure="an impossible reversal is accepted, or refused without saying why")
def test_reversal_refused(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        first = sale_of((yield from c.sale("10.00")))
        yield from settle(c)
        second = sale_of((yield from c.sale("11.00")))
        yield from settle(c)
        out = {}
        out["part"] = yield from c.request("REQ_PROCESS_REVERSAL", {
            "uniqueRef": first["uniqueRef"], "amount": "4.00"}, "RES_ON_REVERSAL_RETRIEVED")
        yield from c.request("REQ_PROCESS_REVERSAL", {"uniqueRef": first["uniqueRef"]},
                             "RES_ON_REVERSAL_RETRIEVED")
        out["twice"] = yield from c.request("REQ_PROCESS_REVERSAL", {
            "uniqueRef": first["uniqueRef"]}, "RES_ON_REVERSAL_RETRIEVED")
        out["unknown"] = yield from c.request("REQ_PROCESS_REVERSAL", {
            "uniqueRef": "NOSUCHREF0"}, "RES_ON_REVERSAL_RETRIEVED")
        yield from c.request("REQ_CLOSE_TRANSACTIONS_BATCH", {},
                             "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE")
        out["settled"] = yield from c.request("REQ_PROCESS_REVERSAL", {
            "uniqueRef": second["uniqueRef"]}, "RES_ON_REVERSAL_RETRIEVED")
        return out

    out = gochip.run(script)
    codes = {k: error_of(m, "REQ_PROCESS_REVERSAL")["data"]["error"] for k, m in out.items()}
    if gochip.reference:
        assert codes == {"part": "PARTIAL_REVERSAL_NOT_OFFERED",
                         "twice": "TRANSACTION_NOT_REVERSIBLE",
                         "unknown": "TRANSACTION_NOT_FOUND",
                         "settled": "TRANSACTION_SETTLED"}, codes
    check_invariants(gochip)


@pytest.mark.parametrize("line", ["1.6", "1.5"])
@case("gochip/B.5/15", title="1.6: a refund of a whole unsettled sale is processed as a "
      "reversal and RES_ON_REFUND_RESPONSE carries saleResponse; 1.5.x and a partial refund "
      "get refundResponse", failure="the refund callback's shape does not follow the SDK line")
def test_refund_as_reversal(gochip: Any, line: str) -> None:
    c = gochip.client()

    def script() -> Any:
        if line == "1.6":
            yield from configure_16(c)
        else:
            yield from c.setup(inputMethod="INSERT")
        whole = sale_of((yield from c.sale("20.00")))
        yield from settle(c)
        part = sale_of((yield from c.sale("30.00")))
        yield from settle(c)
        a = yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": whole["uniqueRef"],
                                                        "amount": "20.00", "reason": "r"},
                                 "RES_ON_REFUND_RESPONSE")
        b = yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": part["uniqueRef"],
                                                        "amount": "10.00", "reason": "r"},
                                 "RES_ON_REFUND_RESPONSE")
        return whole, a, b

    whole, a, b = gochip.run(script)
    assert a is not None and a["type"] == "RES_ON_REFUND_RESPONSE", a
    assert b is not None and b["type"] == "RES_ON_REFUND_RESPONSE", b
    if line == "1.6":
        body = a["data"]["saleResponse"]
        assert body["uniqueRef"] == whole["uniqueRef"] and str(body["authorizedAmount"]) == "0"
    else:
        assert a["data"]["refundResponse"]["code"] == "A", a
    assert b["data"]["refundResponse"]["code"] == "A", b
    if gochip.reference:
        booked = dict(gochip.agent.bookings())
        assert whole["uniqueRef"] not in booked or line == "1.5", booked
    check_invariants(gochip)


@case("gochip/B.5/16", title="secure tokens: registration reads the card, the sale's "
      "secureTokenMerchantRef returns the same credentials number, the history lists the "
      "sale, delete removes it", failure="secure tokens do not follow RES_ON_SECURE_TOKEN_"
      "RESPONSE's documented fields")
def test_secure_tokens(gochip: Any) -> None:
    gochip.present("visa-chip-pin")
    c = gochip.client()

    def script() -> Any:
        yield from c.setup(secureTokenHistory=True)
        reg = yield from c.request("REQ_REGISTER_SECURE_TOKEN", {"merchantReference": "MREF1"},
                                   "RES_ON_SECURE_TOKEN_RESPONSE", 120.0)
        yield from settle(c)
        sale = sale_of((yield from c.sale("12.50", secureTokenMerchantRef="MREF1")))
        yield from settle(c)
        hist = yield from c.request("REQ_RETRIEVE_SECURE_TOKEN_HISTORY",
                                    {"merchantReference": "MREF1"},
                                    "RES_ON_SECURE_TOKEN_RESPONSE")
        gone = yield from c.request("REQ_DELETE_SECURE_TOKEN", {"merchantReference": "MREF1"},
                                    "RES_ON_SECURE_TOKEN_RESPONSE")
        after = yield from c.request("REQ_RETRIEVE_SECURE_TOKEN", {"merchantReference": "MREF1"},
                                     "RES_ON_SECURE_TOKEN_RESPONSE")
        return reg, sale, hist, gone, after

    reg, sale, hist, gone, after = gochip.run(script)
    assert reg is not None and reg["type"] == "RES_ON_SECURE_TOKEN_RESPONSE", reg
    tok = reg["data"]["secureTokenResponse"]
    number = tok["secureTokenCredentialsNumber"]
    assert tok["secureTokenMerchantReference"] == "MREF1"
    assert tok["coreSecureToken"]["credentialsNumber"] == number
    assert "*" in tok["coreSecureToken"]["maskedPan"]
    assert not luhn_ok(number), "a credentials number must not read as a card number"
    assert "PRESENT_CARD" in c.messages()
    assert sale["secureTokenCredentialsNumber"] == number, sale
    assert sale["secureTokenMerchantRef"] == "MREF1", sale
    history = hist["data"]["secureTokenResponse"]["coreSecureToken"]["history"]
    assert [h["uniqueRef"] for h in history] == [sale["uniqueRef"]], history
    assert gone is not None and gone["type"] == "RES_ON_SECURE_TOKEN_RESPONSE", gone
    error_of(after, "REQ_RETRIEVE_SECURE_TOKEN")
    check_invariants(gochip)


@case("gochip/B.5/17", title="secure token refusals: a reference registered twice, history "
      "without secureTokenHistory, a token request naming no reference",
      failure="a token request that cannot be done is accepted")
def test_secure_token_refusals(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        yield from c.request("REQ_REGISTER_SECURE_TOKEN", {"merchantReference": "M2"},
                             "RES_ON_SECURE_TOKEN_RESPONSE", 120.0)
        yield from settle(c)
        out = {}
        out["REQ_REGISTER_SECURE_TOKEN"] = yield from c.request(
            "REQ_REGISTER_SECURE_TOKEN", {"merchantReference": "M2"},
            "RES_ON_SECURE_TOKEN_RESPONSE")
        out["REQ_RETRIEVE_SECURE_TOKEN_HISTORY"] = yield from c.request(
            "REQ_RETRIEVE_SECURE_TOKEN_HISTORY", {"merchantReference": "M2"},
            "RES_ON_SECURE_TOKEN_RESPONSE")
        out["REQ_UPDATE_SECURE_TOKEN"] = yield from c.request(
            "REQ_UPDATE_SECURE_TOKEN", {}, "RES_ON_SECURE_TOKEN_RESPONSE")
        return out

    for source, msg in gochip.run(script).items():
        error_of(msg, source)
    check_invariants(gochip)


@case("gochip/B.5/18", title="offline mode: the sale is read on the card and handed to the "
      "POS in RES_ON_OFFLINE_SALE_REQUEST; the gateway books and lists nothing",
      failure="an offline sale goes to the gateway, or the POS is not given it to submit")
def test_offline_mode(gochip: Any) -> None:
    gochip.present("visa-chip-pin")  # inserted
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        on = yield from c.request("REQ_SET_OFFLINE_MODE_ENABLED", {"enabled": True},
                                  "RES_ON_SET_OFFLINE_MODE_ENABLED")
        got = yield from c.sale("12.50")
        yield from settle(c)
        listing = yield from c.request("REQ_GET_TRANSACTIONS", {},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        return on, got, listing

    on, got, listing = gochip.run(script)
    assert on is not None and on["data"]["enabled"] is True, on
    assert got is not None and got["type"] == "RES_ON_OFFLINE_SALE_REQUEST", got
    sale = got["data"]["sale"]
    assert str(sale["amount"]) == "12.5" and "*" in sale["maskedPAN"], sale
    assert sale["transactionInputMethod"] == "INSERT", sale
    assert not any(t["uniqueRef"] == sale["uniqueRef"]
                   for t in listing["data"]["transactions"]), listing
    if gochip.reference:
        assert not gochip.agent.bookings()
        assert not any(e.kind == "sale" for e in gochip.agent.acquirer.ledger.entries)
    check_invariants(gochip)


@case("gochip/B.6/11", title="processOfflineWhenCommsDown: a gateway that does not answer "
      "($45.67) turns the sale into RES_ON_OFFLINE_SALE_REQUEST, with whatever was booked "
      "reversed", failure="with processOfflineWhenCommsDown the POS still gets a comm error, "
      "or money stays booked")
def test_offline_when_comms_down(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")
        yield from c.request("REQ_INIT_WITH_CONFIGURATION", {
            "terminalId": "2997001", "secret": "s", "processOfflineWhenCommsDown": True},
            "RES_ON_SETTINGS_RETRIEVED")
        yield from c.request("REQ_INIT_DEVICE", {"device": "IDTECH", "connectionType": "USB",
                                                 "inputMethod": "INSERT"},
                             "RES_ON_DEVICE_CONNECTED")
        return (yield from c.sale("45.67"))

    got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_OFFLINE_SALE_REQUEST", got
    assert "RES_ON_TRANSACTION_COMM_ERROR" not in c.types()
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.6/12", title="terminal health listener: STARTED; an unreachable gateway "
      "gives RES_ON_TERMINAL_HEALTH_LISTENER_ERROR and switches offline mode on, a reachable "
      "one off again; STOPPED", failure="the health listener does not follow the gateway")
def test_health_listener(gochip: Any) -> None:
    c = gochip.client()
    gochip.gateway(True)  # skips here when this agent's gateway cannot be switched

    def script() -> Any:
        yield from c.setup()
        started = yield from c.request("REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED",
                                       {"enabled": True},
                                       "RES_ON_TERMINAL_HEALTH_LISTENER_STARTED")
        gochip.gateway(False)
        down = yield from c.wait_for("RES_ON_SET_OFFLINE_MODE_ENABLED", 60.0)
        sale = yield from c.sale("9.00")
        yield from settle(c)
        gochip.gateway(True)
        up = yield from c.wait_for("RES_ON_SET_OFFLINE_MODE_ENABLED", 60.0)
        stopped = yield from c.request("REQ_SET_TERMINAL_HEALTH_LISTENER_ENABLED",
                                       {"enabled": False},
                                       "RES_ON_TERMINAL_HEALTH_LISTENER_STOPPED")
        return started, down, sale, up, stopped

    started, down, sale, up, stopped = gochip.run(script)
    assert started is not None and started["type"] == "RES_ON_TERMINAL_HEALTH_LISTENER_STARTED"
    err = next(m for m in c.received if m["type"] == "RES_ON_TERMINAL_HEALTH_LISTENER_ERROR")
    assert err["responseType"] == "RESPONSE_ERROR_GENERAL" and err["description"], err
    assert down is not None and down["data"]["enabled"] is True, down
    assert sale is not None and sale["type"] == "RES_ON_OFFLINE_SALE_REQUEST", sale
    assert up is not None and up["data"]["enabled"] is False, up
    assert stopped is not None and stopped["type"] == "RES_ON_TERMINAL_HEALTH_LISTENER_STOPPED"
    assert gochip.agent is None or not gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.5/19", title="REQ_DEVICE_PASSTHRU: the documented APDU exchange (card type, "
      "power on, APDU, power off) with the card left in the reader; an unknown method is "
      "refused", failure="device passthrough does not reach the card, or answers another "
      "shape")
def test_passthrough(gochip: Any) -> None:
    gochip.present("visa-chip-pin", cancel_at="remove")
    c = gochip.client()
    calls = [("setCardTypeOption", {"cardType": "00"}), ("icc_powerOnICC", None),
             ("icc_exchangeEncryptedAPDU", {"commandAPDU": "00A404000E315041592E5359532E"
                                            "444446303100", "outputBufferSize": 4096}),
             ("icc_powerOffICC", None), ("notAMethod", None)]

    def script() -> Any:
        yield from c.setup(postTransactionCardRemovalTimeoutInMillis=1000)
        yield from c.sale("5.00")
        yield from c.wait_for("NEVER", 5.0)  # the card stays in: CARD_NOT_REMOVED
        out = []
        for method, params in calls:
            data: dict[str, Any] = {"methodName": method}
            if params is not None:
                data["parameters"] = params
            out.append((yield from c.request("REQ_DEVICE_PASSTHRU", data,
                                             "RES_ON_DEVICE_PASSTHRU_RESPONSE")))
        return out

    card_type, power_on, apdu, power_off, unknown = gochip.run(script)
    for got in (card_type, power_on, apdu, power_off):
        assert got is not None and got["type"] == "RES_ON_DEVICE_PASSTHRU_RESPONSE", got
        assert got["data"]["responseCode"] == 0, got
    assert power_on["data"]["atr"], power_on
    assert apdu["data"]["responseData"].endswith("9000"), apdu
    error_of(unknown, "REQ_DEVICE_PASSTHRU")
    check_invariants(gochip)


@case("gochip/B.5/20", title="admin: REQ_SET_MODE and REQ_SET_LOG_LEVEL answer their RES_ON_; "
      "REQ_WS_RESTART answers RES_ON_WS_RESTART and the set-up starts again",
      failure="an admin request is unknown, or a restart leaves the old set-up in place")
def test_admin(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        mode = yield from c.request("REQ_SET_MODE", {"mode": "LIVE"}, "RES_ON_SET_MODE")
        level = yield from c.request("REQ_SET_LOG_LEVEL", {"logLevel": "LEVEL_FULL"},
                                     "RES_ON_SET_LOG_LEVEL")
        restart = yield from c.request("REQ_WS_RESTART", {}, "RES_ON_WS_RESTART")
        again = yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
        sale = yield from c.request("REQ_PROCESS_SALE", {"amount": "1.00"}, "RES_ON_NEVER")
        return mode, level, restart, again, sale

    mode, level, restart, again, sale = gochip.run(script)
    assert mode is not None and mode["type"] == "RES_ON_SET_MODE", mode
    assert level is not None and level["type"] == "RES_ON_SET_LOG_LEVEL", level
    assert restart is not None and restart["type"] == "RES_ON_WS_RESTART", restart
    assert again is not None, "no RES_ON_WS_INIT_REQUIRED after the restart"
    error_of(sale, "REQ_PROCESS_SALE")
    check_invariants(gochip)
