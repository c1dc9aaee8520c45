"""Malformed GoChip frames, generated from a seed: each must get one error frame.

Every generated frame is wrong in one way a POS or a broken network can make it wrong:
cut short, not JSON, not an object, no or a bad ``type``, a response type sent as a
request, an unknown request, ``data`` that is not an object, a binary frame, or a known
request with a field of the wrong shape (amounts as numbers, three decimals, negative,
enumerations misspelt). None of them is a valid request in any state.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

VALID = [
    {"type": "REQ_WS_INIT", "data": {"mode": "TEST", "logLevel": "LEVEL_FULL"}},
    {"type": "REQ_PROCESS_SALE", "data": {"amount": "12.50", "orderId": "A1"}},
    {"type": "REQ_INIT_DEVICE", "data": {"device": "IDTECH", "connectionType": "USB",
                                         "inputMethod": "INSERT", "emvType": "STANDARD"}},
]
BAD_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("REQ_PROCESS_SALE", {"amount": 12.5}), ("REQ_PROCESS_SALE", {"amount": "12.345"}),
    ("REQ_PROCESS_SALE", {"amount": "-1.00"}), ("REQ_PROCESS_SALE", {"amount": ""}),
    ("REQ_PROCESS_SALE", {"amount": "0.00"}), ("REQ_PROCESS_SALE", {}),
    ("REQ_PROCESS_SALE", {"amount": "1e3"}), ("REQ_PROCESS_SALE", {"amount": True}),
    ("REQ_WS_INIT", {"mode": "test"}), ("REQ_WS_INIT", {}),
    ("REQ_INIT_DEVICE", {"device": "IDTECH"}),
    ("REQ_SUBMIT_APPLICATION", {"index": "one"}), ("REQ_SUBMIT_SIGNATURE", {}),
    ("REQ_SUBMIT_AMOUNT", {"sale": "12.00"}), ("REQ_GET_CALCULATED_AMOUNT", {"amount": 3}),
    ("REQ_PROCESS_REFUND", {"amount": "1.00"}), ("REQ_SET_API_KEY", {"key": ""}),
    ("REQ_PROCESS_UNREFERENCED_REFUND", {"amount": "1.00", "cardNumber": "1234",
                                         "expiryDate": "1330"}),
    ("REQ_SET_DELAYED_AUTH_ENABLED", {"enabled": "yes"}),
    ("REQ_GET_TRANSACTIONS", {"filter": []}),
]


def _word(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_uppercase + "_") for _ in range(n))


def _cut(rng: random.Random) -> str:
    text = json.dumps(rng.choice(VALID))
    return text[: rng.randrange(0, len(text))]


def _garbage(rng: random.Random) -> str:
    alphabet = string.printable + "é€\u0000"
    return "{" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))


def _not_object(rng: random.Random) -> str:
    return json.dumps(rng.choice([rng.randrange(-9, 999), _word(rng), [1, 2], None, True,
                                  [{"type": "REQ_WS_INIT"}]]))


def _bad_type(rng: random.Random) -> str:
    kind = rng.choice([None, 5, "", ["REQ_WS_INIT"], {"t": 1}, False])
    body: dict[str, Any] = {"data": {}}
    if kind is not None:
        body["type"] = kind
    return json.dumps(body)


def _response_type(rng: random.Random) -> str:
    return json.dumps({"type": rng.choice(["RES_ON_SALE_RESPONSE", "RES_ON_WS_INIT",
                                           "RES_" + _word(rng)]), "data": {}})


def _unknown_request(rng: random.Random) -> str:
    return json.dumps({"type": "REQ_" + _word(rng, rng.randrange(1, 20)), "data": {}})


def _bad_data(rng: random.Random) -> str:
    return json.dumps({"type": rng.choice(VALID)["type"],
                       "data": rng.choice([[1], "x", 3, True])})


def _bad_field(rng: random.Random) -> str:
    kind, data = rng.choice(BAD_FIELDS)
    return json.dumps({"type": kind, "data": data})


def _deep(rng: random.Random) -> str:
    depth = rng.randrange(200, 5000)
    return '{"type":"REQ_WS_INIT","data":' + "[" * depth + "]" * depth + "}"


def _binary(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))


MAKERS: list[Callable[[random.Random], str | bytes]] = [
    _cut, _garbage, _not_object, _bad_type, _response_type, _unknown_request, _bad_data,
    _bad_field, _deep, _binary,
]


def frames(seed: int, count: int) -> Iterator[str | bytes]:
    rng = random.Random(seed)
    for i in range(count):
        yield MAKERS[i % len(MAKERS)](rng)
