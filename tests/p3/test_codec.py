"""The sans-I/O pieces: envelope, money, TCP frames, amount-digit outcomes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from protocol_servers.p3 import envelope, tcpframes
from protocol_servers.p3.money import AmountError, display, to_major, to_minor
from protocol_servers.p3.outcomes import OutcomeRules


def test_payload_key_is_lower_camel_case_of_type() -> None:
    assert envelope.payload_key("EXECUTE_TRANSACTION_UPDATE") == "executeTransactionUpdate"
    assert envelope.payload_key("LOGIN_MERCHANT_REQUEST") == "loginMerchantRequest"


def test_amounts_stay_exact_decimals_through_the_codec() -> None:
    req = envelope.decode(json.dumps({
        "tag": "t", "type": "EXECUTE_TRANSACTION_REQUEST", "resource": "devices/x",
        "executeTransactionRequest": {"transactionParameters": {
            "type": "CHARGE", "amount": 0.1, "currency": "EUR"}}}))
    assert isinstance(req, envelope.Request)
    assert req.payload["transactionParameters"]["amount"] == Decimal("0.1")
    text = envelope.encode(envelope.ok_response("X_RESPONSE", "t", None, {"a": Decimal("0.10")}))
    assert '"a":0.10' in text


@pytest.mark.parametrize("raw, rtype, etype", [
    ('{"tag":"a","type":"NO_SUCH_REQUEST"}', "NO_SUCH_RESPONSE", "PARAMETER_INVALID"),
    ('{"tag":"a","type":"LOGIN_MERCHANT_REQUEST"}', "LOGIN_MERCHANT_RESPONSE",
     "PARAMETER_MISSING"),
    ('{"tag":"a","type":"LOGIN_MERCHANT_REQUEST","loginMerchantRequest":{"providerMode":"X",'
     '"merchantIdentifier":"m","merchantSecret":"s"}}', "LOGIN_MERCHANT_RESPONSE",
     "PARAMETER_INVALID"),
    ('{"type":"LOGIN_MERCHANT_REQUEST"}', "LOGIN_MERCHANT_RESPONSE", "PARAMETER_MISSING"),
    ('[1,2]', envelope.UNPARSEABLE_RESPONSE, "PARAMETER_INVALID"),
    ('{"tag":', envelope.UNPARSEABLE_RESPONSE, "PARAMETER_INVALID"),
    (b'{"tag":"\xff"}', envelope.UNPARSEABLE_RESPONSE, "PARAMETER_INVALID"),
])
def test_bad_input_becomes_an_error_answer(raw: str | bytes, rtype: str, etype: str) -> None:
    bad = envelope.decode(raw)
    assert isinstance(bad, envelope.BadRequest)
    assert bad.response_type == rtype
    assert bad.error.type == etype
    msg = envelope.bad_request_response(bad)
    assert msg["status"] == "ERROR" and msg["error"]["developerMessage"]


def test_abort_operation_alias_is_answered_under_its_own_name() -> None:
    req = envelope.decode('{"tag":"x","type":"ABORT_OPERATION_REQUEST","resource":"devices/a"}')
    assert isinstance(req, envelope.Request)
    assert req.type == "ABORT_TRANSACTION_REQUEST"
    assert req.response_type == "ABORT_OPERATION_RESPONSE"


def test_money_conversions_are_exact_and_refuse_extra_decimals() -> None:
    assert to_minor(Decimal("12.50"), "EUR") == 1250
    assert to_minor("1000", "JPY") == 1000
    assert to_major(5, "KWD") == Decimal("0.005")
    assert display(1250, "EUR") == "12,50 EUR"
    with pytest.raises(AmountError):
        to_minor(Decimal("12.345"), "EUR")
    with pytest.raises(AmountError):
        to_minor(Decimal("1"), "XXX")


def test_frames_split_and_joined_come_out_whole() -> None:
    a, b = tcpframes.encode(b'{"a":1}'), tcpframes.encode(b'{"b":2}')
    dec = tcpframes.FrameDecoder(1024)
    stream = a + b
    out: list[object] = []
    for i in range(0, len(stream), 3):  # split across packets
        out += dec.feed(stream[i:i + 3])
    assert out == [b'{"a":1}', b'{"b":2}']
    assert tcpframes.FrameDecoder(1024).feed(a + b) == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("prefix", [b"\x00\x00\x00\x00", b"\x00\x10\x00\x01"])
def test_zero_or_oversized_length_is_fatal(prefix: bytes) -> None:
    dec = tcpframes.FrameDecoder(1 << 20)
    out = dec.feed(prefix + b"{}")
    assert len(out) == 1 and isinstance(out[0], tcpframes.FrameError) and out[0].fatal
    assert dec.feed(tcpframes.encode(b"{}")) == []


@pytest.mark.parametrize("amount, outcome, cvm, pin_ok, question", [
    (1000, "APPROVE", "SIGNATURE", True, None),        # 10.00 signature + approve
    (4000, "APPROVE", "ONLINE_PIN", True, None),       # 40.00 PIN + approve
    (10000, "DECLINE_OFFLINE", "NONE", True, None),    # 100.00 decline
    (22100, "DECLINE_ONLINE", "OFFLINE_PIN", False, None),
    (30000, "BLOCKED", "NONE", True, None),
    (10820, "APPROVE", "SIGNATURE", True, None),       # SDK mock 108.20
    (150000, "APPROVE", "NONE", True, None),           # >= 1000.00
    (510, "APPROVE", "NONE", True, "APPLICATION_SELECTION"),
])
def test_amount_digits_drive_the_mock(amount: int, outcome: str, cvm: str, pin_ok: bool,
                                      question: str | None) -> None:
    b = OutcomeRules.default().behaviour(amount, "EUR")
    assert (b.outcome, b.cvm, b.pin_correct, b.question) == (outcome, cvm, pin_ok, question)
