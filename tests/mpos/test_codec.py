"""The mpos-bridge codec reads what both the README and the shipped code send."""

from __future__ import annotations

import json

import pytest

from protocol_servers.mpos.codec import (
    BadRequest,
    ContextStatus,
    DeviceInfo,
    PaymentMethod,
    PaymentResult,
    PaymentStatus,
    RequestType,
    Response,
    ResponseType,
    StatusBody,
    check_sequence,
    encode_response,
    parse_request,
)
from protocol_servers.mpos.profiles import BIFROST_0_0_19, DOCUMENTED


@pytest.mark.parametrize(
    "value,expected",
    [
        (1, 1),
        ("1", 1),
        ("ListDevices", 1),
        ("listdevices", 1),
        ("CLOSECONTEXT", 8),
        ("Initialize", 2),
        ("displaymessage", 6),
    ],
)
def test_request_type_ints_and_enum_names_in_both_profiles(value: object, expected: int) -> None:
    for profile in (DOCUMENTED, BIFROST_0_0_19):
        req = parse_request(json.dumps({"request_type": value}), profile)
        assert req.request_type == expected


@pytest.mark.parametrize(
    "name,expected", [("close", 8), ("list_devices", 1), ("display_message", 6)]
)
def test_document_names_only_in_documented_profile(name: str, expected: int) -> None:
    assert parse_request(json.dumps({"request_type": name}), DOCUMENTED).request_type == expected
    with pytest.raises(BadRequest) as err:
        parse_request(json.dumps({"request_type": name, "context_id": "c"}), BIFROST_0_0_19)
    assert err.value.context_id == "c"
    assert err.value.request_type_name == "UnknownCommand"


def test_keys_are_case_insensitive_and_numbers_in_strings_accepted() -> None:
    req = parse_request(
        json.dumps(
            {
                "Request_Type": 2,
                "CONTEXT_ID": "shop",
                "initialize": {
                    "Device_Id": "abc",
                    "baud_rate": "115200",
                    "simple_initialize": True,
                    "timeout_milliseconds": "1500",
                    "unknown_key": [1, 2],
                },
            }
        ),
        DOCUMENTED,
    )
    assert req.context_id == "shop"
    assert req.initialize is not None
    assert req.initialize.baud_rate == 115200
    assert req.initialize.timeout_milliseconds == 1500
    assert req.initialize.simple_initialize is True


def test_missing_or_empty_context_is_the_default_context() -> None:
    assert parse_request('{"request_type":7}', DOCUMENTED).context_id == "<default>"
    assert parse_request('{"request_type":7,"context_id":""}', DOCUMENTED).context_id == "<default>"


def test_process_body_filters_and_payment_method_spellings() -> None:
    req = parse_request(
        json.dumps(
            {
                "request_type": 4,
                "process": {
                    "amount": 1500,
                    "magstripe_payment_method": "Debit",
                    "applications": [{"brand": "Visa", "payment_method": 1}],
                },
            }
        ),
        DOCUMENTED,
    )
    assert req.process is not None
    assert req.process.amount == 1500
    assert req.process.magstripe_payment_method == PaymentMethod.Debit
    assert req.process.applications is not None
    assert req.process.applications[0].brand == "visa"
    alias = '{"request_type":4,"process":{"amount":1,"payment_method":2}}'
    assert parse_request(alias, DOCUMENTED).process.magstripe_payment_method == 2  # type: ignore[union-attr]
    assert parse_request(alias, BIFROST_0_0_19).process.magstripe_payment_method == 1  # type: ignore[union-attr]


def test_bad_json_and_bad_bodies_carry_what_the_error_frame_echoes() -> None:
    with pytest.raises(BadRequest) as err:
        parse_request("{not json", DOCUMENTED)
    assert err.value.context_id is None
    with pytest.raises(BadRequest) as err:
        parse_request('{"request_type":4,"context_id":"x","process":{"amount":"lots"}}', DOCUMENTED)
    assert (err.value.request_type_name, err.value.context_id) == ("Process", "x")


def test_undefined_integers_pass_the_reader() -> None:
    assert parse_request('{"request_type":42}', DOCUMENTED).request_type == 42


def test_response_keys_order_and_profiles() -> None:
    resp = Response(ResponseType.Status, "c", status=StatusBody(ContextStatus.Ready, "id1", 2))
    doc = json.loads(encode_response(resp, DOCUMENTED))
    assert list(doc) == [
        "device_list",
        "process",
        "status",
        "context_id",
        "response_type",
        "request_type",
        "error",
    ]
    assert doc["status"] == {
        "status": 1,
        "code": 1,
        "connected_device_id": "id1",
        "available_devices": 2,
    }
    strict = json.loads(encode_response(resp, BIFROST_0_0_19))
    assert list(strict) == [
        "device_list",
        "process",
        "status",
        "context_id",
        "response_type",
        "error",
    ]
    assert strict["status"] == {"code": 1, "connected_device_id": "id1", "available_devices": 2}


def test_device_and_process_objects() -> None:
    resp = Response(
        ResponseType.Error,
        None,
        device_list=[DeviceInfo("/dev/pts/3", "u", "Serial Device (/dev/pts/3)")],
        process=PaymentResult(PaymentStatus.Canceled, error_code=13),
    )
    out = json.loads(encode_response(resp, BIFROST_0_0_19))
    assert out["device_list"][0] == {
        "port": "/dev/pts/3",
        "id": "u",
        "name": "Serial Device (/dev/pts/3)",
        "manufacturer": "",
        "kind": 0,
    }
    assert out["process"] == {
        "card_hash": None,
        "status": 3,
        "error_code": 13,
        "payment_method": None,
        "card_holder_name": None,
        "is_online_pin": False,
    }


def test_sequence_rule() -> None:
    assert check_sequence(0, RequestType.Process) == "Just follow operations allowed: Initialize"
    assert check_sequence(0, RequestType.Initialize) is None
    assert check_sequence(RequestType.Initialize, RequestType.Finish) == (
        "Just follow operations allowed: Initialize, Process"
    )
    assert check_sequence(RequestType.Process, RequestType.Finish) is None
    assert check_sequence(RequestType.Process, RequestType.Process) is not None
    assert check_sequence(RequestType.Finish, RequestType.Process) is None
    for untracked in (1, 6, 7, 8, 0):
        assert check_sequence(RequestType.Process, untracked) is None
    assert check_sequence(RequestType.Initialize, 3) is not None
    assert check_sequence(RequestType.Initialize, 42) is not None
