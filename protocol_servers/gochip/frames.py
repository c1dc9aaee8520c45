"""GoChip Websockets frames, sans I/O: text in, :class:`Frame` or :class:`BadFrame` out.

Every frame is one JSON text message ``{"type": ..., "data": {...}}`` (semi-and-
websockets.md §B.3). The service adds ``responseType`` (``RESPONSE_OK`` or
``RESPONSE_ERROR_GENERAL``) and, on errors, ``description`` and ``messageTypeSource``
(the request that caused it). Choice (the note does not say where they sit): those
three keys are siblings of ``type`` and ``data`` at the top of the frame.

Amounts are decimal strings in requests (``"12.50"``) and JSON numbers in responses
(``12.5``) (§B.3). Money is integer minor units in between; a response amount is an
:class:`Amount` that :func:`encode` writes as a bare JSON number without ever becoming
a float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.textsafe import escape_surrogates

OK = "RESPONSE_OK"
ERROR = "RESPONSE_ERROR_GENERAL"
WS_ERROR = "RES_ON_WS_ERROR"
SDK_ERROR = "RES_ON_ERROR"
DEVICE_ERROR = "RES_ON_DEVICE_ERROR"
MAX_FRAME_CHARS = 64 * 1024  # ours: far above any documented frame

_TYPE_FIELD = re.compile(r'"type"\s*:\s*"([A-Z_]{1,64})"')
_STATUS_FIELD = re.compile(r'"(?:message|cancellationStatus|code)"\s*:\s*"([A-Z_]{1,48})"')
_CVV_FIELD = re.compile(r'"cardCvv"\s*:\s*"[^"]*"')
# a card number in clear (a keyed request's); the agent's own frames carry it masked
_CLEAR_CARD_NUMBER = re.compile(r'"cardNumber"\s*:\s*"[^"*]*"')
_AMOUNT_RE = re.compile(r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")


class FieldError(ValueError):
    """A request field is missing or has the wrong shape; the text says which."""


@dataclass(frozen=True)
class Frame:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadFrame:
    """A frame we cannot act on; ``source`` is its type when that much was readable."""

    reason: str
    source: str | None = None


@dataclass(frozen=True)
class Amount:
    """Minor units that go out as a JSON number (``1250`` -> ``12.5``)."""

    minor: int

    def text(self) -> str:
        value = Decimal(self.minor).scaleb(-2).normalize()
        return format(value, "f")


def decode(raw: str | bytes) -> Frame | BadFrame:
    """One received WebSocket message -> a request frame, or why it is not one."""
    if isinstance(raw, bytes):
        return BadFrame("binary frames are not part of the protocol: send JSON text")
    if len(raw) > MAX_FRAME_CHARS:
        return BadFrame(f"frame longer than {MAX_FRAME_CHARS} characters")
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        return BadFrame(f"not JSON: {exc}")
    if not isinstance(body, dict):
        return BadFrame("a frame is a JSON object with 'type' and 'data'")
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        return BadFrame("'type' is missing or not a string")
    if not kind.startswith("REQ_"):
        return BadFrame(f"{kind!r} is not a request type (requests start with REQ_)", kind)
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return BadFrame("'data' must be a JSON object", kind)
    return Frame(kind, data)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number_marker(amounts: list[str]) -> Callable[[Any], str]:
    """The encoder's ``default``: an :class:`Amount` becomes a unique string marker
    (replaced by the bare number afterwards); anything else JSON cannot write is a bug."""
    def default(value: Any) -> str:
        if isinstance(value, Amount):
            amounts.append(value.text())
            return f"\x00{len(amounts) - 1}\x00"
        if isinstance(value, Decimal):
            raise TypeError("wrap response amounts in Amount")
        raise TypeError(f"{type(value).__name__} is not JSON")
    return default


def encode(message: dict[str, Any]) -> str:
    """A response dict -> the JSON text on the wire (amounts as bare numbers).

    The C encoder walks the frame; only an :class:`Amount` comes back to Python (as
    ``default``), as a marker string that the number then replaces, so a frame without
    amounts costs one ``json.dumps``.

    A lone surrogate the POS sent (an error echoes its request type in
    ``messageTypeSource``) goes out as its ``\\udXXX`` escape: the text must encode as
    UTF-8, or the send raises and the POS hears a closed socket instead of the error.
    """
    amounts: list[str] = []
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False,
                      default=_number_marker(amounts))
    for i, number in enumerate(amounts):
        text = text.replace(f'"\\u0000{i}\\u0000"', number, 1)
    return escape_surrogates(text)


def response(kind: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": kind, "responseType": OK, "data": data if data is not None else {}}


def error(kind: str, description: str, source: str | None,
          data: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error frame (§B.6): ``RES_ON_ERROR``, ``RES_ON_WS_ERROR``, ``RES_ON_DEVICE_ERROR``."""
    out: dict[str, Any] = {"type": kind, "responseType": ERROR, "description": description,
                           "data": data if data is not None else {}}
    if source is not None:
        out["messageTypeSource"] = source
    return out


def label(item: Any) -> str:
    """Transcript label: the frame type (and cancellation status / message, when any)."""
    if isinstance(item, bytes):
        return f"binary ({len(item)} bytes)"
    text = item if isinstance(item, str) else str(item)
    match = _TYPE_FIELD.search(text)
    kind = match.group(1) if match else "?"
    if '"message"' not in text and '"cancellationStatus"' not in text and '"code"' not in text:
        return kind  # most frames: no second search over the text
    extra = _STATUS_FIELD.search(text)
    return f"{kind} {extra.group(1)}" if extra else kind


def guarded_label(redactor: Any) -> Callable[[Any], str]:
    """:func:`label`, and the keyed card fields of a frame registered as secrets first.

    A keyed refund carries ``cardNumber`` and ``cardCvv`` (§B.5). A port labels a frame
    before the transcript writes it, so registering them here keeps them out of the
    transcript from the first crossing on (the generic scan would catch the card
    number, not the three-digit CVV).
    """
    def label_frame(item: Any) -> str:
        if isinstance(item, str) and ('"cardCvv"' in item
                                      or _CLEAR_CARD_NUMBER.search(item) is not None):
            try:
                body = json.loads(item)
                data = body.get("data") if isinstance(body, dict) else None
            except ValueError:
                data = None
            if isinstance(data, dict):
                # only digits are a card number in clear: a masked or garbled one is not
                # a PAN to hide (and the redactor takes PANs as digits alone)
                number = data.get("cardNumber")
                if isinstance(number, str) and number.isdigit():
                    redactor.add_pan(number)
            # the CVV with its key, as written: three digits alone are too short a
            # secret to hide everywhere, the field is not
            for found in _CVV_FIELD.finditer(item):
                redactor.add_secret(found.group(0))
        return label(item)
    return label_frame


# -- request fields -------------------------------------------------------------------
def amount(data: dict[str, Any], key: str = "amount", *, required: bool = True,
           positive: bool = True) -> int | None:
    """A request amount: a decimal string with at most two decimals -> minor units."""
    raw = data.get(key)
    if raw is None:
        if required:
            raise FieldError(f"{key} is required (a decimal string such as \"12.50\")")
        return None
    if not isinstance(raw, str):
        raise FieldError(f"{key} must be a decimal string such as \"12.50\", not {_kind(raw)}")
    if not _AMOUNT_RE.match(raw):
        raise FieldError(f"{key} {raw[:24]!r} is not a decimal amount such as \"12.50\"")
    whole, _, cents = raw.partition(".")
    minor = int(whole) * 100 + int(cents.ljust(2, "0") or "0")
    if positive and minor <= 0:
        raise FieldError(f"{key} must be greater than zero")
    return minor


def text(data: dict[str, Any], key: str, *, required: bool = False, limit: int = 64,
         choices: tuple[str, ...] | None = None) -> str | None:
    raw = data.get(key)
    if raw is None:
        if required:
            raise FieldError(f"{key} is required")
        return None
    if not isinstance(raw, str):
        raise FieldError(f"{key} must be a string, not {_kind(raw)}")
    if choices is not None and raw not in choices:
        raise FieldError(f"{key} {raw[:32]!r} is not one of {', '.join(choices)}")
    if len(raw) > limit:
        raise FieldError(f"{key} is longer than {limit} characters")
    return raw


def flag(data: dict[str, Any], key: str, default: bool = False) -> bool:
    raw = data.get(key, default)
    if not isinstance(raw, bool):
        raise FieldError(f"{key} must be true or false, not {_kind(raw)}")
    return raw


def integer(data: dict[str, Any], key: str, low: int, high: int) -> int | None:
    raw = data.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)) or raw != int(raw):
        raise FieldError(f"{key} must be a whole number, not {_kind(raw)}")
    value = int(raw)
    if not low <= value <= high:
        raise FieldError(f"{key} must be between {low} and {high}, not {value}")
    return value


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "a number", Decimal: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), "null")
