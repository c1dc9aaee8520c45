"""semi-and-websockets.md §B.3-§B.6: each request field at its limit and one past it, and
the value of every response field that the scenario fixes.

A vendor's agent must take a value at the limit; that the value one past it is refused
is the reference's own choice of limit (the note gives none), so that half is read on
the reference only. Expected values come from the note (§B.4 step 8: code, amounts as
numbers, MMYY), from the card the case presents, from the settings the agent published
(§B.4 step 3) or from EMV Book 3 Annex A (the tags' formats), never from the agent's code.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from conformance import case

from .steps import ERRORS, check_invariants, error_of, sale_of

GOOD_DEVICE = {"device": "IDTECH", "connectionType": "USB",
               "inputMethod": "SWIPE_OR_INSERT_OR_TAP", "emvType": "STANDARD"}


def _ws_ready(c: Any) -> Any:
    yield from c.wait_for("RES_ON_WS_INIT_REQUIRED", 10.0)
    yield from c.request("REQ_WS_INIT", {"mode": "TEST"}, "RES_ON_WS_INIT")


def _configured(c: Any) -> Any:
    yield from _ws_ready(c)
    return (yield from c.request("REQ_INIT_WITH_CONFIGURATION",
                                 {"terminalId": "2997001", "secret": "s"},
                                 "RES_ON_SETTINGS_RETRIEVED"))


def _number(value: Any) -> Decimal:
    assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), value
    return Decimal(str(value))


def _luhn_pan(body: str) -> str:
    """``body`` with the Luhn check digit that makes it a valid card number."""
    for check in "0123456789":
        digits = [int(d) for d in body + check][::-1]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                    for i, d in enumerate(digits))
        if total % 10 == 0:
            return body + check
    raise AssertionError("no check digit")


@case("gochip/B.3/4", title="an unknown request type is named in messageTypeSource: 64 "
      "characters whole, a longer one cut to its first 64",
      failure="the error does not name the unknown request, or repeats an arbitrarily long "
      "type back to the POS")
def test_unknown_type_named_up_to_64(gochip: Any) -> None:
    at_limit = "REQ_" + "X" * 59 + "Y"
    past = at_limit + "Z"
    c = gochip.client()

    def script() -> Any:
        yield from _ws_ready(c)
        first = yield from c.request(at_limit, {}, "RES_ON_NOTHING")
        second = yield from c.request(past, {}, "RES_ON_NOTHING")
        return first, second

    first, second = gochip.run(script)
    assert len(at_limit) == 64
    assert error_of(first, at_limit)["type"] == "RES_ON_WS_ERROR", first
    assert second is not None and second["type"] == "RES_ON_WS_ERROR", second
    if gochip.reference:
        assert second.get("messageTypeSource") == at_limit, second


# (state the request needs, request, field path, limit, answer): text fields of ours
TEXT_LIMITS = [
    ("ws", "REQ_INIT_WITH_CONFIGURATION", ("secret",), 512, "RES_ON_SETTINGS_RETRIEVED"),
    ("ws", "REQ_SET_API_KEY", ("key",), 512, "RES_ON_SET_API_KEY"),
    ("ws", "REQ_SET_INTEGRATION_ID", ("key",), 512, "RES_ON_SET_INTEGRATION_ID"),
    ("ws", "REQ_SET_LOG_LEVEL", ("logLevel",), 32, "RES_ON_SET_LOG_LEVEL"),
    ("configured", "REQ_GET_TRANSACTIONS", ("filter", "orderId"), 24,
     "RES_ON_TRANSACTION_LIST_RESPONSE"),
    ("configured", "REQ_GET_TRANSACTIONS", ("filter", "uniqueRef"), 32,
     "RES_ON_TRANSACTION_LIST_RESPONSE"),
]


def _nest(path: tuple[str, ...], value: str) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        out = {key: out}
    if path == ("secret",):
        out["terminalId"] = "2997001"
    return out


@pytest.mark.parametrize(("state", "kind", "path", "limit", "answer"), TEXT_LIMITS,
                         ids=[f"{t[1]}-{t[2][-1]}" for t in TEXT_LIMITS])
@case("gochip/B.4/31", title="a text field at its limit is taken (and echoed where the answer "
      "repeats it); one character more is refused with messageTypeSource",
      failure="a request field is refused at its limit, or taken past it")
def test_text_field_limits(gochip: Any, state: str, kind: str, path: tuple[str, ...],
                           limit: int, answer: str) -> None:
    prefix = "LEVEL_" if path[-1] == "logLevel" else ""
    at_limit = prefix + "A" * (limit - len(prefix))
    c = gochip.client()

    def script() -> Any:
        yield from (_ws_ready(c) if state == "ws" else _configured(c))
        ok = yield from c.request(kind, _nest(path, at_limit), answer)
        past = yield from c.request(kind, _nest(path, at_limit + "A"), answer)
        return ok, past

    ok, past = gochip.run(script)
    assert ok is not None and ok["type"] == answer, f"{path[-1]} of {limit} refused: {ok}"
    if path[-1] == "logLevel":
        assert ok["data"].get("logLevel") == at_limit, ok
    if kind == "REQ_GET_TRANSACTIONS":
        assert ok["data"]["transactions"] == [], ok
    if gochip.reference:
        error_of(past, kind)


@pytest.mark.parametrize("kind", ["REQ_SET_API_KEY", "REQ_SET_INTEGRATION_ID"])
@case("gochip/B.4/32", title="REQ_SET_API_KEY and REQ_SET_INTEGRATION_ID need their key: none, "
      "an empty one or a number is refused with messageTypeSource, and nothing is set",
      failure="the agent takes a 1.6 credential request without its key")
def test_key_required(gochip: Any, kind: str) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from _ws_ready(c)
        out = []
        for data in ({}, {"key": ""}, {"key": 128}, {"key": None}):
            out.append((yield from c.request(kind, data, "RES_ON_" + kind[4:])))
        # no API key was set: configuration by terminalId alone has no credentials
        out.append((yield from c.request("REQ_INIT_WITH_CONFIGURATION",
                                         {"terminalId": "2997001"},
                                         "RES_ON_SETTINGS_RETRIEVED")))
        return out

    *refused, configured = gochip.run(script)
    for got in refused:
        error_of(got, kind)
    if kind == "REQ_SET_API_KEY":
        error_of(configured, "REQ_INIT_WITH_CONFIGURATION")


REMOVAL_TIMEOUTS = ("quickChipCardRemovalTimeoutInMillis",
                    "postTransactionCardRemovalTimeoutInMillis")


@pytest.mark.parametrize("field", REMOVAL_TIMEOUTS)
@case("gochip/B.4/33", title="a removal timeout of REQ_INIT_DEVICE is taken at 1000 and 255000 "
      "and refused at 999, 255001, as a string, a boolean or a fraction",
      failure="a documented removal timeout is refused, or one outside 1000-255000 taken")
def test_removal_timeout_bounds(gochip: Any, field: str) -> None:
    c = gochip.client()
    good: tuple[int, ...] = (1000, 255000)
    bad: tuple[Any, ...] = (999, 255001, "1000", True, 1000.5)

    def script() -> Any:
        yield from _configured(c)
        taken, refused = [], []
        for value in good:
            taken.append((yield from c.request("REQ_INIT_DEVICE", {**GOOD_DEVICE, field: value},
                                               "RES_ON_DEVICE_CONNECTED")))
        for wrong in bad:
            refused.append((yield from c.request("REQ_INIT_DEVICE",
                                                 {**GOOD_DEVICE, field: wrong},
                                                 "RES_ON_DEVICE_CONNECTED")))
        return taken, refused

    taken, refused = gochip.run(script)
    for value, got in zip(good, taken, strict=True):
        assert got is not None and got["type"] == "RES_ON_DEVICE_CONNECTED", (value, got)
    for got in refused:
        error_of(got, "REQ_INIT_DEVICE")


@case("gochip/B.4/34", title="a sale's RES_ON_SALE_RESPONSE carries the values the sale fixes: "
      "the card's name, masked number, MMYY expiry and brand, the amount as a number, the "
      "currency, the POS's orderId, code A / APPROVAL, and emvTags from the card's run "
      "(amount, currency, the sale's date, the application); a decline authorises 0",
      failure="a field of the sale response does not say what happened in this sale")
def test_sale_response_values(gochip: Any) -> None:
    order = "ORD-" + "7" * 20  # 24 characters
    gochip.present("visa-chip-pin")
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        paid = sale_of((yield from c.sale("12.34", orderId=order)))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        gochip.present("visa-chip-pin")
        declined = sale_of((yield from c.sale("101.23")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        listing = yield from c.request("REQ_GET_TRANSACTIONS", {"filter": {"orderId": order}},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        by_ref = yield from c.request("REQ_GET_TRANSACTIONS",
                                      {"filter": {"uniqueRef": declined["uniqueRef"]}},
                                      "RES_ON_TRANSACTION_LIST_RESPONSE")
        refunds = yield from c.request("REQ_GET_TRANSACTIONS",
                                       {"filter": {"transactionType": "REFUND"}},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        sales = yield from c.request("REQ_GET_TRANSACTIONS",
                                     {"filter": {"transactionType": "SALE"}},
                                     "RES_ON_TRANSACTION_LIST_RESPONSE")
        return paid, declined, listing, (by_ref, refunds, sales)

    paid, declined, listing, (by_ref, refunds, sales) = gochip.run(script)
    # each filter gives exactly the rows it names
    assert [r["uniqueRef"] for r in by_ref["data"]["transactions"]] == [declined["uniqueRef"]]
    assert by_ref["data"]["transactions"][0]["transactionStatus"] == "DECLINED", by_ref
    assert refunds["data"]["transactions"] == [], refunds
    assert [r["uniqueRef"] for r in sales["data"]["transactions"]] == [
        paid["uniqueRef"], declined["uniqueRef"]], sales
    assert (paid["code"], paid["description"]) == ("A", "APPROVAL"), paid
    assert _number(paid["authorizedAmount"]) == Decimal("12.34"), paid
    assert paid["currency"] == "USD" and paid["orderId"] == order, paid
    # the card of the catalogue: 4761739001010010, CARDLOOP/VISA, expiry 31-12
    assert paid["cardNumber"] == "476173******0010", paid
    assert paid["cardHolderName"] == "CARDLOOP/VISA", paid
    assert paid["expiryDate"] == "1231", paid
    assert paid["cardType"] == "Visa", paid
    when = paid["dateTime"]
    assert len(when) == 24 and when[10] == "T" and when.endswith("Z"), when
    tags = {t["tag"].upper(): t["value"].upper() for t in paid["emvTags"]}
    assert tags.get("9F02") == "000000001234", tags  # n12 BCD, minor units
    assert tags.get("5F2A") == "0840", tags  # USD, the settings' currency
    assert tags.get("9C") == "00", tags  # goods and services
    # 9A is the transaction date YYMMDD: the day the sale response gives
    assert tags.get("9A") == when[2:4] + when[5:7] + when[8:10], (tags.get("9A"), when)
    assert tags.get("84", tags.get("4F", "")).startswith("A0000000031010"), tags
    rows = listing["data"]["transactions"]
    assert [(r["uniqueRef"], r["orderId"], r["transactionType"]) for r in rows] == [
        (paid["uniqueRef"], order, "SALE")], rows
    assert _number(rows[0]["amount"]) == Decimal("12.34") and rows[0]["currency"] == "USD"
    assert rows[0]["cardNumber"] == "476173******0010" and rows[0]["cardType"] == "Visa"
    assert rows[0]["transactionDate"] == when, rows
    # First Data: above $100 the last three digits are the response code (§B.6): declined
    assert declined["code"] == "D" and declined["description"] != "APPROVAL", declined
    assert _number(declined["authorizedAmount"]) == 0, declined
    assert declined["uniqueRef"] != paid["uniqueRef"] and declined["orderId"], declined
    check_invariants(gochip)


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@case("gochip/B.5/22", title="REQ_GET_CALCULATED_AMOUNT: each tax of a list and a percentage "
      "tip are that percentage of the amount rounded half up to the cent, a fixed tip is its "
      "amount, customTipAmount replaces the tip, none gives 0; an unknown tax or tip is "
      "refused with messageTypeSource",
      failure="a calculated amount is off by a rounding, a tax or a tip")
def test_calculated_amount_values(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        settings = (yield from _configured(c))["data"]["settings"]
        asks = [
            {"amount": "12.34", "tax": [t["uid"] for t in settings["taxList"]],
             "tip": next(t["uid"] for t in settings["tipList"] if "percentage" in t)},
            {"amount": "12.34", "tip": next(t["uid"] for t in settings["tipList"]
                                            if "amount" in t)},
            {"amount": "12.34", "tax": settings["taxList"][0]["uid"],
             "tip": settings["tipList"][0]["uid"], "customTipAmount": "0.50"},
            {"amount": "12.34"},
        ]
        got = []
        for ask in asks:
            got.append((yield from c.request("REQ_GET_CALCULATED_AMOUNT", ask,
                                             "RES_ON_CALCULATED_AMOUNT_RESPONSE")))
        bad = []
        for ask in ({"amount": "12.34", "tax": "NO-SUCH-TAX"},
                    {"amount": "12.34", "tax": [settings["taxList"][0]["uid"], "NO-SUCH-TAX"]},
                    {"amount": "12.34", "tip": "NO-SUCH-TIP"},
                    {"amount": "12.34", "tax": 8}):
            bad.append((yield from c.request("REQ_GET_CALCULATED_AMOUNT", ask,
                                             "RES_ON_CALCULATED_AMOUNT_RESPONSE")))
        return settings, asks, got, bad

    settings, asks, got, bad = gochip.run(script)
    amount = Decimal("12.34")
    taxes = {t["uid"]: _number(t["percentage"]) for t in settings["taxList"]}
    tips = {t["uid"]: t for t in settings["tipList"]}

    def pct(p: Decimal) -> Decimal:
        return _half_up(amount * p / 100)

    expected_tax = [sum((pct(taxes[u]) for u in asks[0]["tax"]), Decimal(0)), Decimal(0),
                    pct(taxes[asks[2]["tax"]]), Decimal(0)]
    expected_tip = [pct(_number(tips[asks[0]["tip"]]["percentage"])),
                    _number(tips[asks[1]["tip"]]["amount"]), Decimal("0.50"), Decimal(0)]
    for msg, tax, tip in zip(got, expected_tax, expected_tip, strict=True):
        assert msg is not None and msg["type"] == "RES_ON_CALCULATED_AMOUNT_RESPONSE", msg
        calc = msg["data"]["calculatedAmount"]
        assert _number(calc["amount"]) == amount, calc
        assert (_number(calc["taxAmount"]), _number(calc["tipAmount"])) == (tax, tip), calc
        assert _number(calc["totalAmount"]) == amount + tax + tip, calc
        assert calc["currency"] == settings["currency"], calc
    # the two taxes of the settings round on their own: 8.25 % and 1.5 % of 12.34
    assert expected_tax[0] == Decimal("1.02") + Decimal("0.19"), expected_tax
    for msg in bad:
        error_of(msg, "REQ_GET_CALCULATED_AMOUNT")


@case("gochip/B.5/23", title="a closed batch counts and totals only its own approved sales and "
      "refunds (a declined sale is closed, not counted); the next batch is numbered one more "
      "and, empty, counts zero", failure="the batch's counts or totals do not match what "
      "was approved since the last close")
def test_batch_values(gochip: Any) -> None:
    c = gochip.client()

    def close() -> Any:
        got = yield from c.request("REQ_CLOSE_TRANSACTIONS_BATCH", {},
                                   "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE")
        assert got is not None and got["type"] == "RES_ON_REQUEST_CLOSE_BATCH_RESPONSE", got
        return got["data"]["batch"]

    def script() -> Any:
        yield from c.setup()
        yield from close()  # what earlier connections left open
        sale_of((yield from c.sale("3.00")))  # a sale of the batch before
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        before = yield from close()
        s = sale_of((yield from c.sale("25.00")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        d = sale_of((yield from c.sale("101.23")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        r = yield from c.request("REQ_PROCESS_REFUND", {"uniqueRef": s["uniqueRef"],
                                                        "amount": "5.00"},
                                 "RES_ON_REFUND_RESPONSE")
        closed = yield from close()
        empty = yield from close()
        return before, (s, d, r), closed, empty

    before, (s, d, r), closed, empty = gochip.run(script)
    assert s["code"] == "A" and d["code"] == "D", (s, d)
    assert r["data"]["refundResponse"]["code"] == "A", r
    assert (before["saleCount"], _number(before["saleTotal"])) == (1, Decimal(3)), before
    assert closed["batchNumber"] == before["batchNumber"] + 1, (before, closed)
    assert (closed["saleCount"], closed["refundCount"], closed["transactionCount"]) == (1, 1, 2)
    assert (_number(closed["saleTotal"]), _number(closed["refundTotal"]),
            _number(closed["netTotal"])) == (Decimal(25), Decimal(5), Decimal(20)), closed
    assert empty["batchNumber"] == closed["batchNumber"] + 1, empty
    assert (empty["saleCount"], empty["refundCount"], empty["transactionCount"]) == (0, 0, 0)
    assert (_number(empty["saleTotal"]), _number(empty["refundTotal"]),
            _number(empty["netTotal"])) == (0, 0, 0), empty
    check_invariants(gochip)


# The card numbers are named in the parameters and made inside the case, so that the
# reports, which record every parameter's value, never hold a card number in clear.
CARD_NUMBERS = {
    "pan-12-digits": _luhn_pan("41111111111"), "pan-19-digits": _luhn_pan("411111111111111111"),
    "pan-11-digits": _luhn_pan("4111111111"), "pan-20-digits": _luhn_pan("4111111111111111111"),
    "pan-bad-check-digit": "4111111111111112",
}


@pytest.mark.parametrize(("field", "value", "taken"), [
    ("cardNumber", "pan-12-digits", True), ("cardNumber", "pan-19-digits", True),
    ("cardNumber", "pan-11-digits", False), ("cardNumber", "pan-20-digits", False),
    ("cardNumber", "pan-bad-check-digit", False),
    ("expiryDate", "0130", True), ("expiryDate", "1230", True),
    ("expiryDate", "0030", False), ("expiryDate", "1330", False),
    ("expiryDate", "123", False), ("expiryDate", "12300", False), ("expiryDate", "12AB", False),
    ("cardHolderName", "N" * 64, True), ("cardHolderName", "N" * 65, False),
    ("cardCvv", "1234", True), ("cardCvv", "12345", False),
    ("reason", "r" * 256, True), ("reason", "r" * 257, False),
], ids=lambda v: str(v) if not isinstance(v, str) or len(v) < 12 else f"len{len(v)}")
@case("gochip/B.5/24", title="a keyed unreferenced refund takes a Luhn-valid card number of 12 "
      "to 19 digits and an MMYY expiry of month 01-12, and refuses one digit fewer or more, a "
      "bad check digit, month 00 or 13, with messageTypeSource; the name (64), CVV (4) and "
      "reason (256) are taken at their limit and refused one past it",
      failure="a keyed refund takes a card number or expiry a card cannot have, or refuses a "
      "valid one")
def test_keyed_refund_card_bounds(gochip: Any, field: str, value: str, taken: bool) -> None:
    c = gochip.client()
    value = CARD_NUMBERS.get(value, value)
    data = {"amount": "3.00", "cardNumber": "4111111111111111", "expiryDate": "1230",
            "cardHolderName": "TEST CARD", "reason": "return", field: value}

    def script() -> Any:
        yield from _configured(c)
        return (yield from c.request("REQ_PROCESS_UNREFERENCED_REFUND", data,
                                     "RES_ON_REFUND_RESPONSE"))

    got = gochip.run(script)
    if taken or (not gochip.reference and field in ("cardHolderName", "cardCvv", "reason")):
        if not taken:
            return  # the length limits of those three are the reference's own choice
        assert got is not None and got["type"] == "RES_ON_REFUND_RESPONSE", got
        body = got["data"]["refundResponse"]
        pan = data["cardNumber"]
        assert body["cardNumber"] == pan[:6] + "*" * (len(pan) - 10) + pan[-4:], body
        assert body["code"] == "A" and _number(body["refundedAmount"]) == 3, body
    else:
        error_of(got, "REQ_PROCESS_UNREFERENCED_REFUND")
    check_invariants(gochip)


@case("gochip/B.6/23", title="while a sale runs, an application answer with no application "
      "prompt open, or an index that is a boolean or past the last application, is refused "
      "with messageTypeSource; the right index then completes the sale",
      failure="a wrong REQ_SUBMIT_APPLICATION is taken, or fails the agent instead of being "
      "refused")
def test_application_answers(gochip: Any) -> None:
    gochip.present("elo-combo")
    c = gochip.client()
    c.answers["RES_ON_SELECT_APPLICATION"] = None

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "20.00"})
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        early = yield from c.request("REQ_SUBMIT_APPLICATION", {"index": 0}, "RES_ON_NOTHING",
                                     5.0)
        prompt = yield from c.wait_for("RES_ON_SELECT_APPLICATION", 120.0)
        n = len(prompt["data"]["applications"])
        boolean = yield from c.request("REQ_SUBMIT_APPLICATION", {"index": True},
                                       "RES_ON_NOTHING")
        past = yield from c.request("REQ_SUBMIT_APPLICATION", {"index": n}, "RES_ON_NOTHING")
        c.send("REQ_SUBMIT_APPLICATION", {"index": n - 1})
        return n, early, boolean, past, (yield from c.final())

    n, early, boolean, past, final = gochip.run(script)
    assert n >= 2, n
    for got in (early, boolean, past):
        error_of(got, "REQ_SUBMIT_APPLICATION")
        if gochip.reference:  # refused as a wrong answer, not as a failure of the agent
            assert got["data"].get("error") != "INTERNAL_ERROR", got
    if gochip.reference:
        assert f"0..{n - 1}" in past["description"], past
    assert sale_of(final)["code"] == "A"
    assert not any(m.get("type") in ERRORS for m in c.received[c.received.index(final):])
    check_invariants(gochip)


def _until_message(c: Any, value: str, limit: float = 120.0) -> Any:
    """Wait for ``RES_ON_MESSAGE`` ``value``; the world's time when it came."""
    while True:
        m = yield from c.wait_for("RES_ON_MESSAGE", limit)
        assert m is not None, f"no {value} message: {c.messages()}"
        if m["data"]["message"] == value:
            return c.world.now


@case("gochip/B.6/24", title="a host that does not answer ($45.67): RES_ON_TRANSACTION_COMM_ERROR "
      "comes connectionTimeoutInMillis (30000 by default, §B.6) after the gateway was asked, "
      "not sooner and not seconds later", failure="the agent gives up on the host before its "
      "connection timeout, or keeps the POS waiting past it")
def test_comm_error_after_the_connection_timeout(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "45.67"})
        asked = yield from _until_message(c, "PROCESSING")
        got = yield from c.final()
        return asked, c.world.now, got

    asked, told, got = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_TRANSACTION_COMM_ERROR", got
    # after the 30 s the card is told the host did not answer (FNC): well under a second
    assert 30.0 <= told - asked <= 31.0, told - asked
    check_invariants(gochip)


@pytest.mark.parametrize("allowed", [True, False])
@case("gochip/B.4/35", title="features.allowMsrFallback decides a chip card whose chip fails: "
      "the swipe that follows is sold when the settings allow fallback and declined, with "
      "nothing booked, when they do not", failure="the agent takes a fallback swipe the "
      "install's settings forbid, or refuses one they allow")
def test_msr_fallback_follows_the_settings(gochip: Any, allowed: bool) -> None:
    from dataclasses import replace

    from protocol_servers.gochip.agent import Agent

    gochip.need_reference("the install's features are settings of the reference agent")
    if gochip.kind != "virtual":
        pytest.skip("the install is built in the case's own world")
    install = replace(gochip.agent.settings,
                      features={**gochip.agent.settings.features, "allowMsrFallback": allowed})
    gochip.agent = Agent(gochip.world, gochip.config, settings=install)
    gochip.present("mc-mute-chip-fallback")
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        return sale_of((yield from c.sale("8.00")))

    s = gochip.run(script)
    settings = next(m for m in c.received if m["type"] == "RES_ON_SETTINGS_RETRIEVED")
    assert settings["data"]["settings"]["features"]["allowMsrFallback"] is allowed
    # the catalogue's card: 5413330089010442, CARDLOOP/FALLBACK, expiry 30-12, read off
    # the stripe, and entered by swipe
    assert (s["cardNumber"], s["cardHolderName"], s["expiryDate"], s["cardType"]) == (
        "541333******0442", "CARDLOOP/FALLBACK", "1230", "MasterCard"), s
    if allowed:
        assert (s["code"], _number(s["authorizedAmount"])) == ("A", Decimal(8)), s
        # the stripe's service code 201 asks no PIN (ISO/IEC 7813, third digit 1): the
        # approval is signed for, on the POS (signature collection AUTOMATIC)
        assert "ENTER_PIN" not in c.messages(), c.messages()
        kinds = c.types()
        assert "RES_ON_SIGNATURE_REQUIRED" in kinds, kinds
        assert kinds.index("RES_ON_SIGNATURE_REQUIRED") < kinds.index("RES_ON_SALE_RESPONSE")
    else:
        assert s["code"] != "A" and _number(s["authorizedAmount"]) == 0, s
        assert not gochip.agent.bookings(), gochip.agent.bookings()
    check_invariants(gochip)


@case("gochip/B.5/25", title="a POS that moves to another reader (REQ_INIT_DEVICE with another "
      "portName) lets the first one go: another POS takes that one without taking this POS's "
      "device, and this POS sells on its new reader", failure="the first reader stays held, "
      "so another POS initialising it takes the device of a POS that moved on")
def test_moving_to_another_reader_frees_the_first(gochip: Any) -> None:
    gochip.need_reference("the readers are the reference's ports")
    a, b = gochip.client("pos-a"), gochip.client("pos-b")

    def script() -> Any:
        yield from a.setup(port="reader0")
        moved = yield from a.request("REQ_INIT_DEVICE", {**GOOD_DEVICE, "portName": "reader1"},
                                     "RES_ON_DEVICE_CONNECTED")
        a.mark_seen()
        taken = yield from b.setup(port="reader0")
        lost = yield from a.wait_for("RES_ON_DEVICE_ERROR", 5.0)
        final = yield from a.sale("4.00")
        return moved, taken, lost, final

    moved, taken, lost, final = gochip.run(script)
    assert moved["data"]["deviceInfo"].get("portName", "reader1") == "reader1", moved
    assert taken["type"] == "RES_ON_DEVICE_CONNECTED", taken
    assert lost is None, f"pos-a was told it lost a reader it had let go: {lost}"
    assert sale_of(final)["code"] == "A"
    check_invariants(gochip)


@case("gochip/B.5/26", title="a cancel while the reader waits for a card nobody presents ends "
      "the sale at once (CANCELLED within seconds), not when the card wait runs out",
      failure="a cancel does not stop the reader's wait for the card: the POS waits for the "
      "presentation timeout")
def test_cancel_stops_the_card_wait(gochip: Any) -> None:
    gochip.present("visa-chip-pin", walk_away_at="card")
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "9.00"})
        yield from _until_message(c, "PRESENT_CARD", 30.0)
        yield c.world.timeout(2.0)
        asked = c.world.now
        c.send("REQ_CANCEL_TRANSACTION", {})
        while True:
            got = yield from c.wait_for(("RES_ON_CANCEL_TRANSACTION_ATTEMPT",
                                         "RES_ON_SALE_RESPONSE"), 120.0)
            if got is None or got["type"] == "RES_ON_SALE_RESPONSE" or \
                    got["data"]["cancellationStatus"] != "CANCELLING":
                return got, c.world.now - asked

    got, took = gochip.run(script)
    assert got is not None and got["type"] == "RES_ON_CANCEL_TRANSACTION_ATTEMPT", got
    assert got["data"]["cancellationStatus"] == "CANCELLED", got
    assert took < 5.0, f"CANCELLED came {took:.1f} s after the cancel"
    if gochip.reference:
        assert not gochip.agent.bookings()
    check_invariants(gochip)


TOKEN_FIELDS = ("secureTokenCredentialsNumber", "secureTokenMerchantRef")


@case("gochip/B.5/27", title="only an approved sale that asked for a secure token "
      "(secureTokenMerchantRef) carries one: a sale that did not ask has no token fields, a "
      "declined one that asked registers none", failure="the agent keeps a card as a token "
      "nobody asked for, or from a sale that was declined")
def test_token_only_for_an_approved_sale_that_asked(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        plain = sale_of((yield from c.sale("4.00")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        declined = sale_of((yield from c.sale("101.23", secureTokenMerchantRef="MREF-DECL")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        kept = yield from c.request("REQ_RETRIEVE_SECURE_TOKEN",
                                    {"merchantReference": "MREF-DECL"},
                                    "RES_ON_SECURE_TOKEN_RESPONSE")
        return plain, declined, kept

    plain, declined, kept = gochip.run(script)
    assert plain["code"] == "A" and not set(TOKEN_FIELDS) & set(plain), plain
    assert declined["code"] == "D" and "secureTokenCredentialsNumber" not in declined, declined
    error_of(kept, "REQ_RETRIEVE_SECURE_TOKEN")
    check_invariants(gochip)


@case("gochip/B.5/28", title="a refund of a uniqueRef the agent does not know is refused naming "
      "it: 32 characters whole, a longer one cut to its first 32", failure="the refusal does "
      "not say which sale was not found, or repeats an arbitrarily long value back")
def test_unknown_refund_named_up_to_32(gochip: Any) -> None:
    at_limit = "R" * 31 + "S"
    past = at_limit + "T"
    c = gochip.client()

    def script() -> Any:
        yield from _configured(c)
        out = []
        for ref in (at_limit, past):
            out.append((yield from c.request("REQ_PROCESS_REFUND",
                                             {"uniqueRef": ref, "amount": "1.00"},
                                             "RES_ON_REFUND_RESPONSE")))
        return out

    first, second = (error_of(m, "REQ_PROCESS_REFUND") for m in gochip.run(script))
    assert at_limit in first["description"], first
    if gochip.reference:
        assert at_limit in second["description"] and past not in second["description"], second


@case("gochip/B.6/25", title="the reader's pinpad loses power as the card is asked for and the "
      "POS cancels: the POS gets its answer (cancelled, or a device error), nothing is booked, "
      "and once the pinpad is back the next sale is served", failure="a cancel sent to a "
      "reader that went dead leaves the POS unanswered or the agent unable to serve")
def test_cancel_on_a_dead_reader(gochip: Any) -> None:
    from virtual_devices.abecs import power

    if gochip.agent is None or gochip.world.mode != "virtual":
        pytest.skip("the reader's pinpad is inside the reference")
    # off for 20 s as GCR arrives (a pulled USB cable), then its boot
    fault = power.arm(gochip.world, power.PowerFault(at="GCR", off=20.0, kind="power_loss"))
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_SALE", {"amount": "9.00"})
        yield from _until_message(c, "PRESENT_CARD", 30.0)
        yield c.world.timeout(1.0)
        c.send("REQ_CANCEL_TRANSACTION", {})
        while True:
            got = yield from c.wait_for(("RES_ON_CANCEL_TRANSACTION_ATTEMPT", *ERRORS,
                                         "RES_ON_SALE_RESPONSE"), 120.0)
            if got is None or got["type"] != "RES_ON_CANCEL_TRANSACTION_ATTEMPT" or \
                    got["data"]["cancellationStatus"] != "CANCELLING":
                return got

    got = gochip.run(script)
    assert fault.fired, "the pinpad never lost power"
    assert got is not None, f"the POS heard nothing after its cancel: {c.types()}"
    assert got["type"] != "RES_ON_SALE_RESPONSE" or got["data"]["saleResponse"]["code"] != "A"
    assert not gochip.agent.bookings()
    check_invariants(gochip)
    gochip.settle(60.0)
    assert sale_of(gochip.run(lambda: c.sale("7.00")))["code"] == "A"
    # the rebooted pinpad lost its session: the agent opened a new one before the card
    # data of the next sale crossed the reader line (DECISIONS.md: secure OPN, then
    # encrypted packets)
    assert gochip.agent.readers["reader0"].pinpad.session is not None
    check_invariants(gochip)


@case("gochip/B.4/36", title="REQ_INIT_DEVICE naming a port no reader is on is refused with "
      "messageTypeSource (the name cut to 64 characters, a name past 128 refused as a field); "
      "a right portName then connects that reader", failure="the agent connects some other "
      "reader than the one named, or fails on a port it does not have")
def test_unknown_port(gochip: Any) -> None:
    gochip.need_reference("the reader names are the reference's ports")
    c = gochip.client()
    long_name = "P" * 127 + "Q"

    def script() -> Any:
        yield from _configured(c)
        out = []
        for port in ("no-such-port", long_name, long_name + "R", "reader1"):
            out.append((yield from c.request("REQ_INIT_DEVICE", {**GOOD_DEVICE, "portName": port},
                                             "RES_ON_DEVICE_CONNECTED")))
        return out

    unknown, at_limit, past, right = gochip.run(script)
    for got in (unknown, at_limit):
        assert error_of(got, "REQ_INIT_DEVICE")["type"] == "RES_ON_DEVICE_ERROR", got
    assert "no-such-port" in unknown["description"], unknown
    assert long_name[:64] in at_limit["description"], at_limit
    assert long_name[:65] not in at_limit["description"], at_limit
    assert error_of(past, "REQ_INIT_DEVICE")["type"] == "RES_ON_ERROR", past
    assert right["type"] == "RES_ON_DEVICE_CONNECTED", right
    assert right["data"]["deviceInfo"]["portName"] == "reader1", right


# (request, state it needs, where the value goes, how much of it an error repeats)
NAMED_VALUES = [
    ("REQ_GET_CALCULATED_AMOUNT", "configured", lambda v: {"amount": v}, 24),
    ("REQ_GET_CALCULATED_AMOUNT", "configured", lambda v: {"amount": "5.00", "tax": v}, 32),
    ("REQ_GET_CALCULATED_AMOUNT", "configured", lambda v: {"amount": "5.00", "tip": v}, 32),
    ("REQ_RETRIEVE_SECURE_TOKEN", "configured", lambda v: {"merchantReference": v}, 32),
    ("REQ_DEVICE_PASSTHRU", "device", lambda v: {"methodName": v}, 48),
]


@pytest.mark.parametrize(("kind", "state", "build", "cut"), NAMED_VALUES,
                         ids=["amount", "tax", "tip", "token", "passthru"])
@case("gochip/B.6/26", title="an error names the value it refuses: whole up to the length the "
      "agent repeats (24 characters of an amount, 32 of a tax, tip or token reference, 48 of "
      "a passthrough method), the first that many of a longer one",
      failure="an error does not say which value was refused, or repeats an arbitrarily long "
      "value back to the POS")
def test_refused_value_named(gochip: Any, kind: str, state: str, build: Any, cut: int) -> None:
    at_cut = "W" * (cut - 1) + "X"
    past = at_cut + "Y"
    c = gochip.client()

    def script() -> Any:
        yield from (c.setup() if state == "device" else _configured(c))
        out = []
        for value in (at_cut, past):
            out.append((yield from c.request(kind, build(value), "RES_ON_NEVER")))
        return out

    first, second = (error_of(m, kind) for m in gochip.run(script))
    assert at_cut in first["description"], first
    if gochip.reference:
        assert at_cut in second["description"] and past not in second["description"], second


@case("gochip/B.5/29", title="a POS keeps its reader after a sale: another POS that initialises "
      "it takes it over only as from an idle holder, and the first is told it lost the device "
      "(RES_ON_DEVICE_ERROR) and cannot sell on it", failure="the agent lets a reader go after "
      "each sale, so two POS drive one reader without either being told")
def test_reader_kept_after_a_sale(gochip: Any) -> None:
    gochip.need_reference("the readers are the reference's ports")
    a, b = gochip.client("pos-a"), gochip.client("pos-b")

    def script() -> Any:
        yield from a.setup(port="reader0")
        sale_of((yield from a.sale("4.00")))
        yield from a.wait_for("RES_ON_MESSAGE", 30.0)
        yield a.world.timeout(40.0)  # the card's removal prompt ends
        a.mark_seen()
        yield from b.setup(port="reader0")
        lost = yield from a.wait_for("RES_ON_DEVICE_ERROR", 5.0)
        refused = yield from a.request("REQ_PROCESS_SALE", {"amount": "5.00"},
                                       "RES_ON_SALE_RESPONSE", 30.0)
        return lost, refused

    lost, refused = gochip.run(script)
    assert lost is not None, "pos-a was not told another POS took its reader"
    assert lost["data"].get("deviceError"), lost
    error_of(refused, "REQ_PROCESS_SALE")
    check_invariants(gochip)


@case("gochip/B.5/30", title="a sale whose card never comes ends when the reader's wait runs "
      "out: not approved, authorizedAmount 0, nothing booked, and the reader takes the next "
      "sale", failure="a sale with no card is reported approved, charged, or never ends")
def test_no_card_ends_the_sale(gochip: Any) -> None:
    gochip.present("visa-chip-pin", walk_away_at="card")
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        final = yield from c.sale("9.00", limit=300.0)
        yield from c.wait_for("NEVER", 10.0)
        gochip.present("visa-chip-pin")
        return final, (yield from c.sale("9.00"))

    final, after = gochip.run(script)
    s = sale_of(final)
    assert s["code"] != "A" and _number(s["authorizedAmount"]) == 0, s
    assert sale_of(after)["code"] == "A", after
    if gochip.reference:  # only the second sale holds money
        assert [amount for _, amount in gochip.agent.bookings()] == [900]
    check_invariants(gochip)


@pytest.mark.parametrize("card_number", [None, "411111******1111", "4111-1111-1111-1111"],
                         ids=["no-card-number", "masked-card-number", "garbled-card-number"])
@case("gochip/B.5/31", title="a CVV the POS sends is never written anywhere, whether or not a "
      "card number in clear comes with it (a card-present refund, a masked or garbled "
      "number), and such a number leaves the log's masking working",
      failure="a CVV reaches the transcript when the frame has no clear card number, or a "
      "masked card number breaks the masking of every later log line")
def test_cvv_never_written(gochip: Any, card_number: str | None) -> None:
    if gochip.kind != "virtual":
        pytest.skip("both ends' transcripts are read: the suite's own, in virtual mode")
    cvv = "987"
    c = gochip.client()
    data: dict[str, Any] = {"amount": "2.00", "cardCvv": cvv, "expiryDate": "1230"}
    if card_number is not None:
        data["cardNumber"] = card_number

    def script() -> Any:
        yield from c.setup()
        c.send("REQ_PROCESS_UNREFERENCED_REFUND", data)
        return (yield from c.final())

    gochip.run(script)
    texts = [bytes.fromhex(e.hex.replace(" ", "")).decode("utf-8", "replace")
             for e in gochip.world.transcript if e.port in ("pos", "gochip:pos") and e.hex]
    sent = [t for t in texts if "REQ_PROCESS_UNREFERENCED_REFUND" in t]
    assert sent, "the refund request is not in the transcript"
    assert not any(f'"{cvv}"' in t for t in sent), sent
    # a later log line with a card number in it still comes out masked
    line = gochip.world.redactor.text("card 4761739001010010 read")
    assert "4761739001010010" not in line and "0010" in line, line
    check_invariants(gochip)


@case("gochip/B.5/32", title="a referenced refund of a sale that was declined, or reversed, is "
      "refused with messageTypeSource: there is nothing to refund, and the acquirer is not "
      "asked", failure="the agent sends a refund of a sale that never held money")
def test_refund_of_an_unpaid_sale_refused(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        declined = sale_of((yield from c.sale("101.23")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        paid = sale_of((yield from c.sale("6.00")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        yield c.world.timeout(40.0)  # the card's removal prompt ends
        reversal = yield from c.request("REQ_PROCESS_REVERSAL", {"uniqueRef": paid["uniqueRef"]},
                                        "RES_ON_REVERSAL_RETRIEVED")
        out = []
        for sale in (declined, paid):
            out.append((yield from c.request("REQ_PROCESS_REFUND",
                                             {"uniqueRef": sale["uniqueRef"], "amount": "1.00"},
                                             "RES_ON_REFUND_RESPONSE")))
        return declined, reversal, out

    declined, reversal, refused = gochip.run(script)
    assert declined["code"] == "D", declined
    assert reversal is not None and reversal["type"] == "RES_ON_REVERSAL_RETRIEVED", reversal
    for got in refused:
        error_of(got, "REQ_PROCESS_REFUND")
    if gochip.reference:
        refunds = [e for e in gochip.agent.acquirer.ledger.entries if e.kind == "refund"]
        assert refunds == [], refunds
    check_invariants(gochip)


@case("gochip/B.5/33", title="REQ_GET_DELAYED_AUTH_ENABLED gives back what was set: enabled with "
      "its initialAmount as a number, then disabled without one", failure="the delayed-auth "
      "mode read back does not say what the POS set")
def test_delayed_auth_read_back(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from _configured(c)
        out = []
        for data in ({"enabled": True, "initialAmount": "7.50"}, {"enabled": False}):
            yield from c.request("REQ_SET_DELAYED_AUTH_ENABLED", data,
                                 "RES_ON_SET_DELAYED_AUTH_ENABLED")
            out.append((yield from c.request("REQ_GET_DELAYED_AUTH_ENABLED", {},
                                             "RES_ON_DELAYED_AUTH_ENABLED")))
        return out

    on, off = gochip.run(script)
    assert on["data"]["enabled"] is True and _number(on["data"]["initialAmount"]) == Decimal(
        "7.5"), on
    assert off["data"] == {"enabled": False}, off


@case("gochip/B.5/34", title="a referenced refund's reason is taken at 256 characters and "
      "refused at 257 before anything is refunded", failure="a refund goes through with a "
      "reason past its limit, or is refused at it")
def test_refund_reason_limit(gochip: Any) -> None:
    c = gochip.client()

    def script() -> Any:
        yield from c.setup()
        s = sale_of((yield from c.sale("5.00")))
        yield from c.wait_for("RES_ON_MESSAGE", 30.0)
        out = []
        for reason in ("r" * 257, "r" * 256):
            out.append((yield from c.request("REQ_PROCESS_REFUND", {
                "uniqueRef": s["uniqueRef"], "amount": "1.00", "reason": reason},
                "RES_ON_REFUND_RESPONSE")))
        return out

    past, at_limit = gochip.run(script)
    assert at_limit["type"] == "RES_ON_REFUND_RESPONSE", at_limit
    assert at_limit["data"]["refundResponse"]["code"] == "A", at_limit
    if gochip.reference:
        error_of(past, "REQ_PROCESS_REFUND")
    check_invariants(gochip)


@case("gochip/B.3/5", title="a frame of exactly the agent's largest size (65536 characters) is "
      "read; one character more is refused as malformed, and the agent serves on",
      failure="the agent refuses a frame at its size limit, or reads one past it")
def test_frame_size_limit(gochip: Any) -> None:
    gochip.need_reference("the frame size limit is the reference's own")
    c = gochip.client()

    def framed(size: int) -> str:
        head = '{"type":"REQ_GET_TRANSACTIONS","data":{"filter":{}},"pad":"'
        return head + "x" * (size - len(head) - 2) + '"}'

    def script() -> Any:
        yield from _configured(c)
        out = []
        for size in (65536, 65537):
            text = framed(size)
            assert len(text) == size
            c.send_raw(text)
            out.append((yield from c.wait_for(("RES_ON_TRANSACTION_LIST_RESPONSE",
                                               "RES_ON_WS_ERROR"), 10.0)))
        return out

    at_limit, past = gochip.run(script)
    assert at_limit["type"] == "RES_ON_TRANSACTION_LIST_RESPONSE", at_limit
    assert past["type"] == "RES_ON_WS_ERROR" and past["responseType"] == \
        "RESPONSE_ERROR_GENERAL", past


@case("gochip/B.5/35", title="the transaction list of one POS shows its finished sale while "
      "another POS's sale, started earlier, is still waiting for its card",
      failure="a sale still running hides the finished sales listed after it")
def test_listing_past_a_running_sale(gochip: Any) -> None:
    gochip.need_reference("two readers of the reference, one customer who never comes")
    gochip.present("visa-chip-pin", reader="reader0", walk_away_at="card")
    a, b = gochip.client("pos-a"), gochip.client("pos-b")

    def script() -> Any:
        yield from a.setup(port="reader0")
        a.send("REQ_PROCESS_SALE", {"amount": "3.00"})
        yield from _until_message(a, "PRESENT_CARD", 30.0)
        yield from b.setup(port="reader1")
        paid = sale_of((yield from b.sale("4.00")))
        listing = yield from b.request("REQ_GET_TRANSACTIONS", {},
                                       "RES_ON_TRANSACTION_LIST_RESPONSE")
        yield from a.final(120.0)
        return paid, listing

    paid, listing = gochip.run(script)
    rows = listing["data"]["transactions"]
    assert [r["uniqueRef"] for r in rows] == [paid["uniqueRef"]], rows
    check_invariants(gochip)
