"""The sans-I/O frame codec: decode, encode, amounts, field checks."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from protocol_servers.gochip import frames
from protocol_servers.gochip.frames import Amount, BadFrame, FieldError, Frame


def test_decode_request() -> None:
    got = frames.decode('{"type":"REQ_PROCESS_SALE","data":{"amount":"12.50"}}')
    assert got == Frame("REQ_PROCESS_SALE", {"amount": "12.50"})


def test_decode_missing_data_is_empty() -> None:
    assert frames.decode('{"type":"REQ_WS_INIT"}') == Frame("REQ_WS_INIT", {})


@pytest.mark.parametrize(("raw", "source"), [
    ("nope", None), ("[1]", None), ('{"data":{}}', None), ('{"type":5}', None),
    ('{"type":"RES_ON_SALE_RESPONSE"}', "RES_ON_SALE_RESPONSE"),
    ('{"type":"REQ_X","data":[1]}', "REQ_X"), (b"\x00\x01", None),
    ('{"type":"REQ_X","data":' + "[" * 5000 + "]" * 5000 + "}", None),
    ('{"type":"REQ_X","data":{"a":NaN}}', None),
])
def test_decode_refuses(raw: str | bytes, source: str | None) -> None:
    got = frames.decode(raw)
    assert isinstance(got, BadFrame) and got.reason
    assert got.source == source


def test_decode_keeps_numbers_exact() -> None:
    got = frames.decode('{"type":"REQ_X","data":{"n":0.1}}')
    assert isinstance(got, Frame) and got.data["n"] == Decimal("0.1")


@pytest.mark.parametrize(("minor", "text"), [(1250, "12.5"), (1000, "10"), (1, "0.01"),
                                               (0, "0"), (123456789, "1234567.89")])
def test_amount_goes_out_as_a_number(minor: int, text: str) -> None:
    wire = frames.encode(frames.response("RES_X", {"a": Amount(minor), "b": [Amount(minor)]}))
    body = json.loads(wire, parse_float=Decimal)
    assert str(body["data"]["a"]) == text and str(body["data"]["b"][0]) == text
    assert f'"a":{text}' in wire


def test_encoding_a_bare_decimal_is_refused() -> None:
    with pytest.raises(TypeError):
        frames.encode({"a": Decimal("1.5")})


@pytest.mark.parametrize(("raw", "minor"), [("12.50", 1250), ("12.5", 1250), ("7", 700),
                                            ("0.01", 1)])
def test_amount_in(raw: str, minor: int) -> None:
    assert frames.amount({"amount": raw}) == minor


@pytest.mark.parametrize("raw", [12.5, "12.505", "-1", "1e3", "", "0", "012.00", True, None])
def test_amount_in_refused(raw: object) -> None:
    with pytest.raises(FieldError):
        frames.amount({"amount": raw} if raw is not None else {})


def test_error_frame_shape() -> None:
    e = frames.error("RES_ON_ERROR", "why", "REQ_PROCESS_SALE", {"error": "X"})
    assert e == {"type": "RES_ON_ERROR", "responseType": "RESPONSE_ERROR_GENERAL",
                 "description": "why", "messageTypeSource": "REQ_PROCESS_SALE",
                 "data": {"error": "X"}}


def test_integer_range() -> None:
    assert frames.integer({"t": 1000}, "t", 1000, 255000) == 1000
    for bad in (999, 255001, "5000", True, Decimal("1000.5")):
        with pytest.raises(FieldError):
            frames.integer({"t": bad}, "t", 1000, 255000)


def test_label_names_the_frame() -> None:
    assert frames.label('{"type":"RES_ON_MESSAGE","data":{"message":"REMOVE_CARD"}}') == \
        "RES_ON_MESSAGE REMOVE_CARD"


@pytest.mark.parametrize("raw", ['{"type":"REQ_\\ud800","data":{}}',
                                 '{"type":"\\udfffX","data":{}}'])
def test_error_echoing_a_lone_surrogate_encodes(raw: str) -> None:
    """The error names the request type it refuses; a lone surrogate in it must still
    go out as UTF-8 text (a send that raises closes the socket with no error frame)."""
    bad = frames.decode(raw)
    source = bad.source if isinstance(bad, BadFrame) else None
    if isinstance(bad, Frame):
        source = bad.type
    assert source is not None
    text = frames.encode(frames.error(frames.WS_ERROR, "unknown request type", source))
    text.encode("utf-8")  # raises on a lone surrogate
    assert json.loads(text)["messageTypeSource"] == source
